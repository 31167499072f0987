"""Incremental, defensive parser for one client-to-server XML stream.

An XMPP stream is one never-ending XML document: the ``<stream:stream>`` root opens it and
each child of the root is a stanza. Expat is driven directly (not `XMLPullParser`) because
the server must see what the pull parser hides: DOCTYPEs, entity declarations, processing
instructions and comments (all restricted by RFC 6120 11.1), and the byte offsets needed to
cap the size of a single stanza. Stanzas are handed over as `xml.etree.ElementTree`
elements with Clark-notation tags (``{jabber:client}iq``).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Protocol
from xml.parsers import expat


class StreamError(Exception):
    """Ends the stream with ``<stream:error><CONDITION/></stream:error>``."""

    def __init__(self, condition: str, description: str | None = None) -> None:
        super().__init__(condition if description is None else f"{condition}: {description}")
        self.condition = condition
        self.description = description


class _Restarted(Exception):
    """Aborts `Parse` after a stream restart: the rest of the chunk belongs to nobody."""


_MAX_CACHED_NAMES = 256


class StreamHandler(Protocol):
    def stream_opened(self, tag: str, attrs: dict[str, str]) -> None: ...
    def stanza(self, element: ET.Element) -> None: ...
    def stream_closed(self) -> None: ...


class StreamParser:
    """Feeds bytes to expat and calls a `StreamHandler` per stream header, stanza and end.

    Errors surface as `StreamError` from `feed` (raised by the handler or by the parser:
    ``not-well-formed``, ``restricted-xml``, ``policy-violation``).
    """

    def __init__(self, handler: StreamHandler, *, max_stanza_bytes: int) -> None:
        self._handler = handler
        self._max = max_stanza_bytes
        self._names: dict[str, str] = {}
        self._new_expat()

    def _new_expat(self) -> None:
        # encoding="UTF-8" overrides whatever the XML declaration claims (RFC 6120 11.6).
        p = expat.ParserCreate(encoding="UTF-8", namespace_separator="}")
        # Unbuffered text keeps CurrentByteIndex exact for the size cap; client stanzas are
        # few and small, so the extra callbacks cost nothing that matters.
        p.buffer_text = False
        p.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        if hasattr(p, "SetReparseDeferralEnabled"):
            # expat >= 2.6 may hold back a complete token until more bytes arrive, which
            # stalls a stream that waits for our answer.
            p.SetReparseDeferralEnabled(False)
        p.StartElementHandler = self._start
        p.EndElementHandler = self._end
        p.CharacterDataHandler = self._data
        p.StartDoctypeDeclHandler = self._restricted
        p.EntityDeclHandler = self._restricted
        p.UnparsedEntityDeclHandler = self._restricted
        p.NotationDeclHandler = self._restricted
        p.ExternalEntityRefHandler = self._restricted
        p.ProcessingInstructionHandler = self._restricted
        p.CommentHandler = self._restricted
        self._expat = p
        self._depth = 0
        self._builder: ET.TreeBuilder | None = None
        self._fed = 0  # bytes given to this expat instance
        self._mark = 0  # byte index where the last top-level stanza (or the header) ended
        self._restart = False

    def restart(self) -> None:
        """Begin a new stream (after SASL success or TLS): a fresh document.

        Bytes that arrived in the same chunk after the stanza that caused the restart are
        dropped: a client must wait for ``<success/>``/``<proceed/>`` before it sends more,
        and plaintext pipelined behind ``<starttls/>`` is exactly what an injection attack
        looks like.
        """
        self._restart = True

    def feed(self, data: bytes) -> None:
        self._fed += len(data)
        try:
            self._expat.Parse(data, False)
        except _Restarted:
            pass
        except expat.ExpatError as exc:
            if not self._restart:
                raise StreamError("not-well-formed", expat.ErrorString(exc.code)) from None
        if self._restart:
            self._new_expat()
        elif self._fed - self._mark > self._max:
            raise StreamError("policy-violation", "stanza too large")

    # --- expat callbacks ----------------------------------------------------------------

    def _clark(self, name: str) -> str:
        # expat gives "ns}local"; ElementTree style is "{ns}local". Names repeat: cache them.
        try:
            return self._names[name]
        except KeyError:
            tag = "{" + name if "}" in name else name
            if len(self._names) < _MAX_CACHED_NAMES:  # a client inventing names can't grow it
                self._names[name] = tag
            return tag

    def _start(self, name: str, attrs: dict[str, str]) -> None:
        if self._restart:
            raise _Restarted
        tag = self._clark(name)
        if attrs and any("}" in k for k in attrs):
            attrs = {self._clark(k): v for k, v in attrs.items()}
        self._depth += 1
        if self._depth == 1:
            self._mark = self._expat.CurrentByteIndex
            self._handler.stream_opened(tag, attrs)
            return
        if self._depth == 2:
            self._builder = ET.TreeBuilder()
        assert self._builder is not None
        self._builder.start(tag, attrs)

    def _end(self, name: str) -> None:
        if self._restart:
            raise _Restarted
        depth = self._depth
        self._depth -= 1
        if depth == 1:
            self._handler.stream_closed()
            return
        assert self._builder is not None
        element = self._builder.end(self._clark(name))
        if depth == 2:
            self._builder = None
            end = self._expat.CurrentByteIndex
            size, self._mark = end - self._mark, end
            if size > self._max:
                raise StreamError("policy-violation", "stanza too large")
            self._handler.stanza(element)

    def _data(self, data: str) -> None:
        if self._restart:
            raise _Restarted
        if self._depth >= 2:
            assert self._builder is not None
            self._builder.data(data)
        else:
            # Whitespace keepalives between stanzas are fine; they should not add up to a
            # "stanza too large" over hours, so they move the mark past themselves.
            self._mark = self._expat.CurrentByteIndex + len(data.encode())

    def _restricted(self, *_args: object) -> int:
        if self._restart:
            raise _Restarted
        raise StreamError("restricted-xml")
