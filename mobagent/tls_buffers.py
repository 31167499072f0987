"""asyncio's per-connection TLS read buffer, made small: shared by every TLS end of the lab.

The connector (a TLS client per agent) and the simulator (a TLS server with thousands of
clients) both call `small_tls_read_buffers()`; it lives here, outside both packages, because
neither may import the other's internals.
"""

from __future__ import annotations

import asyncio.sslproto

__all__ = ["SSL_READ_BUFFER", "small_tls_read_buffers"]

# asyncio's TLS transport (the pure-Python one of CPython 3.11+, which every connection of
# the default event loop uses, STARTTLS and direct TLS alike) allocates and zero-fills a
# read buffer of `SSLProtocol.max_size` bytes per connection when it is created: 256 KiB,
# resident for the connection's lifetime, which with one notification session per agent was
# most of the connector's memory per agent (figures in docs/benchmarks.md, "Measurements
# behind the design"). The buffer takes the encrypted bytes of one socket read; 4 KiB holds a
# typical notification in one read, and a bigger one (a TLS record carries up to 16 KiB)
# takes a few more cheap reads, OpenSSL keeping the partial record meanwhile. The class
# attribute is read when each
# connection is made, so this applies to every asyncio TLS connection in the process made
# after the import (aiohttp's included). Only ever shrunk, never grown. A Python whose
# asyncio has no such attribute (or an event loop with its own TLS implementation, such as
# uvloop) is left as it is.
SSL_READ_BUFFER = 4 * 1024


def small_tls_read_buffers(size: int = SSL_READ_BUFFER) -> None:
    """Shrink asyncio's per-connection TLS read buffer to `size` (never grow it). Done at
    import for the connector; a TLS server with many clients (the simulator) calls it."""
    protocol = getattr(asyncio.sslproto, "SSLProtocol", None)
    if isinstance(getattr(protocol, "max_size", None), int):
        protocol.max_size = min(protocol.max_size, size)
