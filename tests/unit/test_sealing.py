"""Passwords sealed for a shared state store: AES-GCM under a key the store never sees."""

from __future__ import annotations

import base64

import pytest

from connector.config import ConfigError, ConnectorConfig
from connector.store.sealing import Sealer, SealError, generate_key


def test_a_generated_key_is_32_random_bytes_in_base64url():
    key = generate_key()
    assert len(base64.urlsafe_b64decode(key + "=")) == 32
    assert key != generate_key()


def test_sealed_opens_for_the_same_agent_only_and_hides_the_password():
    sealer = Sealer(generate_key())
    sealed = sealer.seal("1001", "s3cret-pw")
    assert "s3cret" not in sealed and sealed.startswith(sealer.current + ":")
    assert sealer.open("1001", sealed) == "s3cret-pw"
    with pytest.raises(SealError):
        sealer.open("1002", sealed)  # moved to another agent's record
    assert sealer.seal("1001", "s3cret-pw") != sealed  # a fresh nonce every time


def test_keys_rotate_the_first_seals_every_one_opens():
    old, new = generate_key(), generate_key()
    sealed_old = Sealer(old).seal("1001", "pw")
    both = Sealer(f"{new},{old}")
    assert both.open("1001", sealed_old) == "pw"
    assert both.sealed_with_current(both.seal("1001", "pw"))
    assert not both.sealed_with_current(sealed_old)
    with pytest.raises(SealError, match="not configured"):
        Sealer(new).open("1001", sealed_old)


@pytest.mark.parametrize("key", ["", "short", "a" * 43 + "!"])
def test_a_key_that_is_not_32_bytes_of_base64url_is_refused(key):
    with pytest.raises(SealError):
        Sealer(key)


def test_the_connector_refuses_a_shared_state_without_a_key():
    with pytest.raises(ConfigError, match="MOBAGENT_CONNECTOR_STATE_KEY"):
        ConnectorConfig(state="redis://127.0.0.1:6379/0").validate()
    with pytest.raises(ConfigError, match="state_key"):
        ConnectorConfig(state="redis://127.0.0.1:6379/0", state_key="nope").validate()
    with pytest.raises(ConfigError, match="redis://"):
        ConnectorConfig(state="mysql://x", state_key=generate_key()).validate()
    config = ConnectorConfig(state="redis://h:1/0", state_key=generate_key()).validate()
    assert config.state_key not in repr(config)
