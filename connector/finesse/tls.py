"""The TLS client context every Finesse connection shares.

One `ssl.SSLContext` per configuration for the whole process, never one per agent:
a context loads the CA store when it is created, which costs memory and CPU each time
(figures in docs/benchmarks.md, "Measurements behind the design"). Every notification
session's XMPP stream (direct TLS and STARTTLS) and the REST client take it from here.

Finesse serves HTTPS and XMPP over TLS with TLS 1.2 as the minimum (docs/finesse.md, REST basics),
and its certificate is issued to the host's FQDN, so verification, including the host name, is
on by default. A private CA (the simulator's, a customer's internal one) is given as a CA
file; it replaces the system store rather than adding to it, so only that CA is trusted.

Importing this module also shrinks asyncio's per-connection TLS read buffer
(`mobagent.tls_buffers`), for every asyncio TLS connection of the process.
"""

from __future__ import annotations

import functools
import logging
import os
import ssl

from mobagent.tls_buffers import SSL_READ_BUFFER, small_tls_read_buffers

__all__ = ["SSL_READ_BUFFER", "client_ssl_context"]

log = logging.getLogger("connector.finesse.tls")

# Every asyncio TLS connection of the process gets a small read buffer (one notification
# session per agent makes this the largest per-agent cost with TLS): see mobagent.tls_buffers.
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
