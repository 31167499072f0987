"""Throw-away TLS identity for the simulated Finesse (XMPP STARTTLS/direct TLS, HTTPS).

`self_signed_context` makes a private CA and a server certificate signed by it, once per
process and host-name set. Clients trust the CA file it returns
(``ssl.create_default_context(cafile=...)``). A separate CA (rather than one self-signed
leaf) keeps strict verifiers happy: Python 3.13's default context sets VERIFY_X509_STRICT.
"""

from __future__ import annotations

import atexit
import datetime as dt
import ipaddress
import shutil
import ssl
import tempfile
import threading
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mobagent.tls_buffers import small_tls_read_buffers

_LOCK = threading.Lock()
_CACHE: dict[tuple[str, ...], tuple[ssl.SSLContext, Path]] = {}
_ALWAYS = ("127.0.0.1", "::1")  # loopback, for clients that connect by IP


def self_signed_context(hostnames: list[str]) -> tuple[ssl.SSLContext, Path]:
    """A server `SSLContext` for `hostnames` (DNS names or IP literals) plus loopback, and
    the path of the PEM CA certificate that clients should trust."""
    key = tuple(sorted(set(hostnames)))
    with _LOCK:
        cached = _CACHE.get(key)
        if cached is None:
            cached = _CACHE[key] = _make(list(key))
        return cached


def _make(hostnames: list[str]) -> tuple[ssl.SSLContext, Path]:
    directory = Path(tempfile.mkdtemp(prefix="finesse-sim-tls-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    now = dt.datetime.now(dt.UTC)
    not_before, not_after = now - dt.timedelta(hours=1), now + dt.timedelta(days=30)

    # EC P-256: generated in a millisecond, where RSA-2048 takes ~100 ms.
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "finesse-sim test CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    names: list[x509.GeneralName] = []
    for name in [*hostnames, *_ALWAYS]:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            names.append(x509.DNSName(name))
    names = list(dict.fromkeys(names))
    common_name = next((h for h in hostnames if not _is_ip(h)), "localhost")
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )

    pem = serialization.Encoding.PEM
    ca_path = directory / "ca.pem"
    cert_path = directory / "server.pem"
    key_path = directory / "server.key"
    ca_path.write_bytes(ca_cert.public_bytes(pem))
    cert_path.write_bytes(cert.public_bytes(pem) + ca_cert.public_bytes(pem))
    key_path.touch(mode=0o600)
    key_path.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert_path, key_path)
    # asyncio would give each client connection a 256 KiB read buffer: ~250 MiB of the
    # simulator's memory with 1,000 STARTTLS clients (scenarios.bench.connector_memory).
    small_tls_read_buffers()
    return ctx, ca_path


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True
