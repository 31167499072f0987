"""The shared client SSL context: one object per configuration, verification on by default."""

from __future__ import annotations

import asyncio.sslproto
import os
import ssl
from pathlib import Path

import pytest

from connector.finesse.tls import SSL_READ_BUFFER, client_ssl_context
from finesse_sim.tls import self_signed_context


@pytest.fixture(scope="module")
def ca_file() -> Path:
    _, path = self_signed_context(["finesse.example"])
    return path


def test_default_context_verifies_chain_and_host_name_with_tls12_minimum():
    ctx = client_ssl_context()
    assert ctx.verify_mode is ssl.CERT_REQUIRED
    assert ctx.check_hostname is True
    assert ctx.minimum_version is ssl.TLSVersion.TLSv1_2


def test_one_object_per_configuration_however_it_is_spelled(ca_file: Path, monkeypatch):
    assert client_ssl_context() is client_ssl_context(verify=True)
    assert client_ssl_context(verify=True, ca_file=None) is client_ssl_context()
    private = client_ssl_context(ca_file=str(ca_file))
    assert client_ssl_context(ca_file=ca_file) is private  # Path or str
    monkeypatch.chdir(ca_file.parent)
    assert client_ssl_context(ca_file=ca_file.name) is private  # relative to the cwd
    assert private is not client_ssl_context()
    assert client_ssl_context(verify=False) is not client_ssl_context()


def test_ca_file_is_the_only_trust_anchor(ca_file: Path):
    ctx = client_ssl_context(ca_file=ca_file)
    assert ctx.verify_mode is ssl.CERT_REQUIRED and ctx.check_hostname is True
    assert ctx.minimum_version is ssl.TLSVersion.TLSv1_2
    subjects = [dict(pair[0] for pair in c["subject"]) for c in ctx.get_ca_certs()]
    assert subjects == [{"commonName": "finesse-sim test CA"}]


def test_verification_off_ignores_the_ca_file(ca_file: Path):
    off = client_ssl_context(verify=False)
    assert off.verify_mode is ssl.CERT_NONE and off.check_hostname is False
    assert off.minimum_version is ssl.TLSVersion.TLSv1_2
    assert client_ssl_context(verify=False, ca_file=ca_file) is off


def test_missing_ca_file_is_an_error_not_a_silent_default(tmp_path: Path):
    with pytest.raises(FileNotFoundError):
        client_ssl_context(ca_file=os.fspath(tmp_path / "missing.pem"))


def test_asyncio_tls_read_buffer_is_small_once_the_module_is_imported():
    # CPython 3.11+ gives each TLS connection a read buffer of SSLProtocol.max_size bytes
    # (256 KiB by default); importing connector.finesse.tls shrinks it to 4 KiB, a typical
    # notification's encrypted bytes in one read.
    assert SSL_READ_BUFFER == 4 * 1024
    assert isinstance(asyncio.sslproto.SSLProtocol.max_size, int)  # exists on this Python
    assert 0 < asyncio.sslproto.SSLProtocol.max_size <= SSL_READ_BUFFER
