from __future__ import annotations

import pytest

from connector.config import ConfigError, ConnectorConfig, load


def test_defaults_point_at_the_simulator():
    config = load(env={})
    assert config.finesse == "http://127.0.0.1:8445"
    assert (config.listen_host, config.listen_port) == ("127.0.0.1", 8080)
    assert config.resource == "mobileagent" and config.verify_tls is True


def test_file_then_environment_then_flags(tmp_path):
    file = tmp_path / "connector.toml"
    file.write_text(
        '[connector]\nfinesse = "https://a:8445"\nmax_sessions = 10\nxmpp_tls = "starttls"\n'
    )
    env = {"MOBAGENT_CONNECTOR_MAX_SESSIONS": "20", "MOBAGENT_CONNECTOR_VERIFY_TLS": "false"}
    config = load(str(file), env=env, overrides={"finesse": "https://b:8445", "xmpp_port": None})
    assert config.finesse == "https://b:8445"  # flag beats file
    assert config.max_sessions == 20  # environment beats file
    assert config.verify_tls is False
    assert config.xmpp_tls == "starttls"  # file beats default


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MOBAGENT_CONNECTOR_XMPP_TLS": "maybe"}, "xmpp_tls"),
        ({"MOBAGENT_CONNECTOR_FINESSE": "finesse1:8445"}, "base URL"),
        ({"MOBAGENT_CONNECTOR_RESOURCE": "desktop"}, "desktop"),
        ({"MOBAGENT_CONNECTOR_LISTEN": "nowhere"}, "HOST:PORT"),
        ({"MOBAGENT_CONNECTOR_MAX_SESSIONS": "many"}, "max_sessions"),
        ({"MOBAGENT_CONNECTOR_VERIFY_TLS": "perhaps"}, "verify_tls"),
        ({"MOBAGENT_CONNECTOR_EVENT_BUFFER": "0"}, "event_buffer"),
        ({"MOBAGENT_CONNECTOR_MAX_WEBSOCKETS_PER_AGENT": "0"}, "max_websockets_per_agent"),
        ({"MOBAGENT_CONNECTOR_WS_SEND_TIMEOUT": "0"}, "ws_send_timeout"),
        ({"MOBAGENT_CONNECTOR_WS_HEARTBEAT": "-1"}, "ws_heartbeat"),
    ],
)
def test_bad_settings_are_named(env, message):
    with pytest.raises(ConfigError, match=message):
        load(env=env)


def test_unknown_option_in_the_file_is_refused(tmp_path):
    file = tmp_path / "c.toml"
    file.write_text('[connector]\ncolour = "red"\n')
    with pytest.raises(ConfigError, match="colour"):
        load(str(file), env={})


def test_every_option_has_an_environment_variable():
    config = load(env={"MOBAGENT_CONNECTOR_" + n.upper(): "1" for n in ("keepalive", "max_body")})
    assert (config.keepalive, config.max_body) == (1.0, 1)
    assert isinstance(ConnectorConfig().login_timeout, float)
