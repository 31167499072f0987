"""The app's pure modules run in the browser with synthetic input: the state built from
frames (state.js) and the service worker's push and click handlers (notify.js)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def run(app, body: str):
    """Evaluate `body` (an async function of the imported modules) in the app's page."""
    return await app.page.evaluate(
        f"""async () => {{
            const state = await import('/js/state.js');
            const notify = await import('/js/notify.js');
            return await ({body})(state, notify);
        }}"""
    )


DIALOG = """{id: 'd1', state: 'ACTIVE', fromAddress: '+15550101', queueName: 'Sales',
    callType: 'ACD_IN', callVariables: {callVariable1: 'ACC-42'}, actions: ['HOLD', 'DROP'],
    participants: [{mediaAddress: '5001', state: 'ACTIVE'},
                   {mediaAddress: '+15550101', state: 'ACTIVE'}]}"""


async def test_a_resync_replaces_everything_shown(open_app):
    app = await open_app()
    result = await run(
        app,
        f"""async (s) => {{
            let st = s.initial({{agentId: '1001', extension: '5001', callControl: true}});
            st = s.apply(st, {{seq: 1, type: 'dialog.created', data: {DIALOG}, ts: 1}});
            st = s.apply(st, {{seq: 2, type: 'system.status',
                              data: {{status: 'reconnecting'}}, ts: 1}});
            const before = [...st.dialogs.keys()];
            st = s.apply(st, {{seq: 9, type: 'session.resync', ts: 2, data: {{
                agent: {{state: 'READY', extension: '5001'}}, dialogs: [],
                system: {{status: 'IN_SERVICE'}}}}}});
            return {{before, after: [...st.dialogs.keys()], seq: st.lastSeq,
                     state: s.stateWords(st.agent), system: st.system.status}};
        }}""",
    )
    assert result == {
        "before": ["d1"],
        "after": [],
        "seq": 9,
        "state": "Ready",
        "system": "IN_SERVICE",
    }


async def test_buttons_come_from_the_dialogs_actions_in_a_fixed_order(open_app):
    app = await open_app()
    words = await run(
        app,
        """async (s) => s.callButtons({actions: ['DROP', 'UPDATE_CALL_DATA', 'RETRIEVE',
            'TRANSFER', 'CONFERENCE', 'SEND_DTMF']}).map((a) => s.ACTION_WORDS[a])""",
    )
    assert words == ["Resume", "Transfer", "Conference", "Keypad", "End call"]


async def test_wrap_up_goes_to_the_call_that_offers_call_data(open_app):
    app = await open_app()
    chosen = await run(
        app,
        """async (s) => {
            let st = s.initial({extension: '5001', callControl: true});
            st = s.apply(st, {seq: 1, type: 'agent.state', data: {state: 'WORK_READY',
                                                                  extension: '5001'}});
            st = s.apply(st, {seq: 2, type: 'dialog.updated', data: {id: 'w', state: 'ACTIVE',
                actions: ['UPDATE_CALL_DATA'], participants: [{mediaAddress: '5001',
                state: 'WRAP_UP'}]}});
            return [s.inWrapUp(st), s.wrapUpDialog(st).id];
        }""",
    )
    assert chosen == [True, "w"]


async def test_a_pushed_call_becomes_a_notification_with_the_call_data(open_app):
    app = await open_app()
    shown = await run(
        app,
        f"""async (s, n) => n.notificationFor({{seq: 7, type: 'dialog.created',
                                               data: {DIALOG}, ts: 1}})""",
    )
    assert shown["title"] == "Incoming call from +15550101, Sales"
    assert shown["options"]["body"] == "callVariable1: ACC-42"
    assert shown["options"]["tag"] == "dialog-d1"  # one per call, replaced not stacked
    assert shown["options"]["data"]["seq"] == 7


async def test_only_events_the_agent_must_not_miss_are_notified(open_app):
    app = await open_app()
    shown = await run(
        app,
        """async (s, n) => [
            n.notificationFor({type: 'agent.state', data: {state: 'READY'}}),
            n.notificationFor({type: 'system.status', data: {status: 'IN_SERVICE'}}),
            n.notificationFor({type: 'system.status', data: {status: 'OUT_OF_SERVICE'}}).title,
            n.notificationFor({type: 'session.ended', data: {reason: 'forced_logout',
                                                            message: 'Finesse logged you out'}}),
            n.notificationFor(null),
        ]""",
    )
    assert shown[0] is None and shown[1] is None and shown[4] is None
    assert shown[2] == "Finesse is out of service"
    assert shown[3]["title"] == "You were signed out"
    assert shown[3]["options"]["body"] == "Finesse logged you out"


async def test_a_notification_click_focuses_the_open_app_or_opens_it(open_app):
    app = await open_app()
    result = await run(
        app,
        """async (s, n) => {
            const calls = [];
            const win = {url: location.origin + '/', focus: () => { calls.push('focus');
                                                                  return win; }};
            const withWindow = {matchAll: async () => [win],
                                openWindow: async (u) => calls.push('open ' + u)};
            const without = {matchAll: async () => [],
                             openWindow: async (u) => calls.push('open ' + u)};
            await n.openApp(withWindow, '/');
            await n.openApp(without, '/');
            return calls;
        }""",
    )
    assert result == ["focus", "open /"]
