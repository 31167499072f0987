"""The connector's VAPID key pair (RFC 8292) and the `Authorization` header it signs.

The key pair identifies this connector to the push services: a browser's subscription is
bound to its public key (the app passes it as `applicationServerKey`), so it must outlive a
restart. It is generated on the first start and kept in the state directory as a PEM file
readable by the owner only, or read from a file the operator names. The private key is
never logged nor shown; only the public key leaves the process.

Signing costs an ECDSA signature, so one token per push service origin is kept until it
is within an hour of its expiry (tokens live 12 hours; services refuse more than 24).
"""

from __future__ import annotations

import base64
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid02, VapidException

log = logging.getLogger("connector.push")
KEY_FILE = "vapid_private.pem"
TOKEN_LIFETIME = 12 * 3600
TOKEN_RENEW_BEFORE = 3600


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class KeyFileError(ValueError):
    """The private key file cannot be read as a P-256 key (its content is never shown)."""


def _read(path: Path) -> Vapid02:
    try:
        return Vapid02.from_pem(path.read_bytes())
    except (OSError, ValueError, TypeError, VapidException):
        raise KeyFileError(f"{path}: not a readable PEM P-256 private key") from None
    finally:
        if path.exists() and path.stat().st_mode & 0o077:
            log.warning("push: %s can be read by others than its owner (chmod 600)", path)


class VapidKeys:
    def __init__(
        self, vapid: Vapid02, subject: str, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._vapid = vapid
        self.subject = subject
        self._clock = clock
        self._tokens: dict[str, tuple[float, str]] = {}  # audience -> (expiry, header)
        raw = vapid.public_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        self.public_key = b64url(raw)  # what the app gives the browser

    @classmethod
    def load(cls, state_dir: Path, subject: str, key_file: str = "") -> VapidKeys:
        """The operator's key file, else the state directory's (made on the first start)."""
        path = Path(key_file) if key_file else state_dir / KEY_FILE
        if key_file or path.exists():
            return cls(_read(path), subject)
        keys = cls.generate(subject)
        state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Created 0600 from the start (never world-readable, not even for a moment).
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(keys.private_pem())
        log.warning("push: a new VAPID key pair was made in %s", path)
        return keys

    @classmethod
    def generate(cls, subject: str = "mailto:mobagent@localhost") -> VapidKeys:
        vapid = Vapid02()
        vapid.generate_keys()
        return cls(vapid, subject)

    @classmethod
    def from_pem(cls, pem: bytes, subject: str) -> VapidKeys:
        return cls(Vapid02.from_pem(pem), subject)

    def private_pem(self) -> bytes:
        """The private key, for the connector's own push process only (through a pipe)."""
        return self._vapid.private_pem()

    def authorization(self, audience: str) -> str:
        """`vapid t=JWT,k=KEY` for a push service's origin (the JWT's `aud`)."""
        now = self._clock()
        cached = self._tokens.get(audience)
        if cached is not None and cached[0] - now > TOKEN_RENEW_BEFORE:
            return cached[1]
        expiry = int(now) + TOKEN_LIFETIME
        claims = {"aud": audience, "exp": expiry, "sub": self.subject}
        header = self._vapid.sign(claims)["Authorization"]
        self._tokens[audience] = (expiry, header)
        return header
