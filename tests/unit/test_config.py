from pathlib import Path

import pytest

from finesse_sim.config import ConfigError, config_from_dict, default_config, load_config

EXAMPLE = Path(__file__).parents[2] / "examples" / "roster.toml"


def test_default_roster_is_what_the_docs_promise():
    config = default_config()
    assert [a.id for a in config.agents] == [str(i) for i in range(1001, 1011)]
    assert {a.password for a in config.agents} == {"password"}
    assert [a.extension for a in config.agents] == [str(i) for i in range(5001, 5011)]
    assert config.agents[0].dial_number == "+15551230001"
    assert (config.teams[0].id, config.teams[0].name) == ("1", "Sales")
    assert (config.queues[0].name, config.queues[0].dn) == ("Sales", "8000")
    codes = [(r.id, r.category, r.label) for r in config.reason_codes]
    assert codes == [
        ("1", "NOT_READY", "Break"),
        ("2", "NOT_READY", "Lunch"),
        ("3", "LOGOUT", "End of shift"),
    ]
    assert [w.label for w in config.wrap_up_reasons] == ["Resolved", "Escalated"]
    assert (config.wrap_up_on_incoming, config.timers.wrap_up) == ("REQUIRED", 60.0)


def test_default_roster_names_are_deterministic():
    first, second = default_config(), default_config()
    assert [(a.first_name, a.last_name) for a in first.agents] == [
        (a.first_name, a.last_name) for a in second.agents
    ]
    assert all(a.first_name and a.last_name for a in first.agents)


def test_example_roster_loads():
    config = load_config(EXAMPLE)
    assert [a.id for a in config.agents] == ["2001", "2002", "2003"]
    assert config.agent("2001").password == "s3cret"
    assert config.agent("2002").password == "password"
    assert {q.dn: q.agents for q in config.queues} == {
        "8100": ["2001", "2002"],
        "8200": ["2002", "2003"],
    }
    assert config.devices == {"6001", "6002", "6003", "6099"}
    assert config.timers.wrap_up == 30 and config.timers.ring_no_answer == 12
    assert config.xmpp_domain == "finesse-a.example.local"
    assert config.allow_plaintext_auth is False


def test_plaintext_auth_is_off_unless_the_roster_or_the_flag_allows_it():
    from finesse_sim.cli import parser

    assert default_config().allow_plaintext_auth is False  # Finesse 12.5+ requires STARTTLS
    assert config_from_dict({"settings": {"allow_plaintext_auth": True}}).allow_plaintext_auth
    assert parser().parse_args(["--tls", "--allow-plaintext-auth"]).allow_plaintext_auth
    assert not parser().parse_args(["--tls"]).allow_plaintext_auth


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"settings": {"deployment": "PCCE"}}, "deployment"),
        ({"settings": {"wrap_up_on_incoming": "SOMETIMES"}}, "wrap_up_on_incoming"),
        ({"settings": {"allow_plaintext_auth": "yes"}}, "allow_plaintext_auth"),
        ({"timers": {"coffee": 3}}, "unknown"),
        ({"timers": {"wrap_up": "soon"}}, "timers"),
        ({"agents": [{"id": "1"}]}, "extension"),
        ({"queues": [{"name": "Q", "dn": "1", "agents": ["42"]}]}, "unknown agents"),
        ({"agents": [{"id": "1", "extension": "1"}, {"id": "1", "extension": "2"}]}, "duplicate"),
        ({"agents": [{"id": "1", "extension": "1", "team": "9"}]}, "unknown team"),
    ],
)
def test_bad_roster_is_a_config_error_naming_the_key(data, message):
    with pytest.raises(ConfigError, match=message):
        config_from_dict(data)


def test_unreadable_file_is_a_config_error(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[settings\n")
    with pytest.raises(ConfigError):
        load_config(bad)


def test_agents_without_queues_all_serve_the_default_queue():
    config = config_from_dict({"agents": [{"id": "7", "extension": "77"}]})
    assert [(q.dn, q.agents) for q in config.queues] == [("8000", ["7"])]
