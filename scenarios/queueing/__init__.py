"""Queueing theory in closed form: `erlang` (Erlang B, Erlang C, Erlang A)."""
