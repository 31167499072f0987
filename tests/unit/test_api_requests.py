"""What the mobile API takes in a field (connector/api/requests.py): every value is one the
connector can pass on, and a refusal names the field."""

from __future__ import annotations

import pytest

from connector.api.requests import MAX_ID, MAX_TEXT, LongNumber, _loads, check_values
from connector.errors import AgentError, Refusal


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"agentId": "\ud800"}, "agentId"),  # a lone surrogate: no encoder takes it
        ({"agentId": "10\n01"}, "agentId"),
        ({"agentId": "1" * (MAX_ID + 1)}, "agentId"),
        ({"extension": "50\u200b01"}, "extension"),  # invisible: not printable
        ({"password": "pass\x00word"}, "password"),
        ({"password": "p" * (MAX_TEXT + 1)}, "password"),
        ({"mobile": {"mode": "CALL_BY_CALL", "dialNumber": "+1\x7f"}}, "dialNumber"),
        ({"callVariables": {"callVariable1": "\udfff"}}, "callVariables"),
        ({"callVariables": {"call\tVariable1": "x"}}, "callVariables"),
        (_loads('{"reasonCodeId": ' + "9" * 5000 + "}"), "reasonCodeId"),
    ],
)
def test_a_value_the_connector_cannot_pass_on_is_refused_by_name(data, field):
    with pytest.raises(AgentError) as refusal:
        check_values(data)
    assert (refusal.value.kind, refusal.value.field) == (Refusal.INVALID_FIELD, field)


def test_ordinary_values_pass_free_text_may_be_any_language():
    check_values(
        {
            "agentId": "1" * MAX_ID,
            "password": "pâss wörd 密码 🔑",
            "wrapUpReason": "Rückruf vereinbart",
            "callVariables": {"callVariable1": "ça va", "user.note": "x" * MAX_TEXT},
            "reasonCodeId": 12,
            "mobile": {"mode": "CALL_BY_CALL", "dialNumber": "+1 555 123 0001"},
        }
    )


def test_a_number_too_long_to_convert_is_kept_as_a_marker():
    value = _loads("[" + "1" * 65 + ", -" + "2" * 64 + "]")
    assert isinstance(value[0], LongNumber) and value[1] == -int("2" * 64)
