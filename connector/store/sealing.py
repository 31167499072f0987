"""Agents' Finesse passwords, sealed for a store outside the process (AES-256-GCM).

The key is never in the store: it comes from the environment (`MOBAGENT_CONNECTOR_STATE_KEY`)
or the configuration (`state_key`), 32 random bytes in base64url (`mobagent connector
--generate-state-key` prints one). Several keys may be given, comma-separated: the first
seals, every one of them opens, so keys rotate without signing anyone out (docs/security.md).
Each sealed value names its key by a key id (a hash of the key, not the key), and the agent
id is the associated data: a sealed password moved to another agent's record does not open.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
NONCE_BYTES = 12


class SealError(ValueError):
    """A key that is not 32 bytes of base64url, or a sealed value that does not open."""


def generate_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode().rstrip("=")


def _decode(text: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise SealError("a state key is base64url text") from exc
    return raw


def key_id(key: bytes) -> str:
    return hashlib.sha256(b"mobagent state key id" + key).hexdigest()[:12]


class Sealer:
    """Seals with the first key, opens with any of them."""

    def __init__(self, keys: str) -> None:
        texts = [k.strip() for k in keys.split(",") if k.strip()]
        if not texts:
            raise SealError("no state key")
        self._keys: dict[str, AESGCM] = {}
        for text in texts:
            raw = _decode(text)
            if len(raw) != KEY_BYTES:
                raise SealError(f"a state key is {KEY_BYTES} bytes (base64url), not {len(raw)}")
            self._keys.setdefault(key_id(raw), AESGCM(raw))
        self.current = next(iter(self._keys))  # the id of the key that seals

    def seal(self, agent_id: str, secret: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._keys[self.current].encrypt(nonce, secret.encode(), agent_id.encode())
        return f"{self.current}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def open(self, agent_id: str, value: str) -> str:
        kid, _, blob = value.partition(":")
        aead = self._keys.get(kid)
        if aead is None:
            raise SealError(f"sealed with key {kid}, which is not configured")
        raw = _decode(blob)
        try:
            return aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], agent_id.encode()).decode()
        except InvalidTag as exc:
            raise SealError(f"the sealed value of agent {agent_id} does not open") from exc

    def sealed_with_current(self, value: str) -> bool:
        return value.partition(":")[0] == self.current
