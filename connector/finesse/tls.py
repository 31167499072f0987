"""The TLS client context every Finesse connection shares.

One `ssl.SSLContext` per configuration for the whole process, never one per agent:
a context loads the CA store when it is created, which costs about 900 KiB and 50 ms of
CPU each time (STACK.md). slixmpp builds such a context for every client object unless it
is handed one, so every notification session takes it from here.

Finesse serves HTTPS and XMPP over TLS with TLS 1.2 as the minimum (FINESSE.md 1), and its
certificate is issued to the host's FQDN, so verification, including the host name, is
on by default. A private CA (the simulator's, a customer's internal one) is given as a CA
file; it replaces the system store rather than adding to it, so only that CA is trusted.

Importing this module also shrinks asyncio's per-connection TLS read buffer (see
`SSL_READ_BUFFER`), for every asyncio TLS connection of the process.
"""

from __future__ import annotations

import asyncio.sslproto
import functools
import logging
import os
import ssl

__all__ = ["SSL_READ_BUFFER", "client_ssl_context", "small_tls_read_buffers"]

log = logging.getLogger("connector.finesse.tls")

# asyncio's TLS transport (the pure-Python one of CPython 3.11+, which every connection of
# the default event loop uses, STARTTLS and direct TLS alike) allocates and zero-fills a
# read buffer of `SSLProtocol.max_size` bytes per connection when it is created: 256 KiB,
# resident for the connection's lifetime. With one notification session per agent that was
# about 240 KiB of the ~420 KiB per agent measured at 1,000 STARTTLS agents. The buffer
# takes the encrypted bytes of one socket read; 4 KiB holds a typical notification (2-4 KiB)
# in one read, and a bigger one (a TLS record carries up to 16 KiB) takes a few more cheap
# reads, OpenSSL keeping the partial record meanwhile. 16 KiB -> 4 KiB saved another ~12 KiB
# per STARTTLS agent (scenarios.bench.connector_memory). The class attribute is read when each
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


small_tls_read_buffers()


def client_ssl_context(
    *, verify: bool = True, ca_file: str | os.PathLike[str] | None = None
) -> ssl.SSLContext:
    """The shared client context for (`verify`, `ca_file`): the same object on every call.

    `verify=True` (the default): certificate chain and host name are checked, against
    `ca_file` when given, else the system's default CA store. `verify=False` turns both
    checks off (a lab without certificates); `ca_file` is then ignored. TLS 1.2 is the
    minimum either way.

    Callers must not change the returned context: every session in the process uses it.
    """
    if not verify:
        return _context(False, None)
    path = os.path.abspath(os.fspath(ca_file)) if ca_file else None
    return _context(True, path)


@functools.cache
def _context(verify: bool, ca_file: str | None) -> ssl.SSLContext:
    # Positional, normalised arguments only: cache keys differ between f(x) and f(x=x),
    # and two spellings of one configuration must still give one context.
    if verify:
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca_file)
        ctx.check_hostname = True
        ctx.verify_mode = ssl.CERT_REQUIRED
    else:
        log.warning("TLS certificate verification is OFF for Finesse connections")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx
