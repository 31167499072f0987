"""The Mobile App Server's WebSocket proxy passes a close code from one leg to the other
(`mobile_app.proxy.passable`): the leg's own code as it is, and "going away" where the leg
broke, because the codes that say so (1005, 1006, 1015) must never be sent in a close
frame (RFC 6455 7.4.1): a peer fails the connection on them."""

from __future__ import annotations

import pytest

from mobile_app.proxy import passable


@pytest.mark.parametrize("code", [1000, 1001, 1011, 4001, 4002])
def test_a_code_sent_in_a_close_frame_is_passed_on_as_it_is(code: int):
    assert passable(code) == code


@pytest.mark.parametrize("code", [None, 1005, 1006, 1015])
def test_a_leg_that_broke_is_passed_on_as_going_away(code: int | None):
    assert passable(code) == 1001
