"""Agents' event streams: numbered, replayable, fanned out to readers and sinks."""

from connector.stream.event_stream import EventSink, EventStream, Frame, Reader

__all__ = ["EventSink", "EventStream", "Frame", "Reader"]
