"""The agent desk on its own: records, a publisher and phones, no telephony.

`ContactCenter` wires the desk to the telephony; this pins that sign-in, agent state and the
ACD's view of availability need nothing more than the shared records.
"""

from __future__ import annotations

from typing import Any

import pytest
import simpy

from connector.finesse.models import ApiErrorException, Update, User
from finesse_sim.config import default_config
from finesse_sim.model.agent_desk import AgentDesk
from finesse_sim.model.phones import Phones
from finesse_sim.model.publisher import Publisher
from finesse_sim.model.records import Records


class Desk:
    def __init__(self) -> None:
        self.notes: list[tuple[str, Update]] = []
        self.phones: list[tuple[str, dict[str, Any]]] = []
        self.records = Records(default_config(), simpy.Environment(), epoch=1_700_000_000.0)
        self.publisher = Publisher(self.records, lambda node, u: self.notes.append((node, u)))
        self.desk = AgentDesk(
            self.records, self.publisher, Phones(lambda n, e: self.phones.append((n, e)))
        )

    def put(self, agent_id: str, request_id: str, **user: Any) -> None:
        self.desk.put_user(self.records.agents[agent_id], User(**user), request_id)


def test_login_and_ready_publish_and_make_the_agent_routable():
    d = Desk()
    d.put("1001", "rq-login", state="LOGIN", extension="5001")
    d.put("1001", "rq-ready", state="READY")
    own = [(u.data.state, u.request_id) for n, u in d.notes if n.endswith("/User/1001")]
    assert own == [("NOT_READY", "rq-login"), ("READY", "rq-ready")]
    assert d.records.acd.is_available("1001")
    d.put("1001", "rq-nr", state="NOT_READY", reason_code_id="1")
    assert not d.records.acd.is_available("1001")
    assert d.phones == []


def test_refusals_are_finesse_errors_and_publish_nothing():
    d = Desk()
    with pytest.raises(ApiErrorException) as refused:
        d.put("1001", "rq", state="READY")
    assert refused.value.status == 400
    assert d.notes == []
