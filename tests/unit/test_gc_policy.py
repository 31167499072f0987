"""The connector's garbage-collection policy (connector/gc_policy.py)."""

from __future__ import annotations

import asyncio
import gc
import weakref

import pytest

from connector.config import ConfigError, load
from connector.gc_policy import GcPolicy


class Cycle:
    def __init__(self) -> None:
        self.me = self


@pytest.fixture(autouse=True)
def thawed():
    yield
    gc.unfreeze()
    gc.collect()


async def test_a_freeze_waits_for_sign_ins_to_settle_and_sets_everything_alive_aside():
    policy = GcPolicy(settle=0.05, freeze_interval=0, full_interval=0)
    policy.changed()
    await asyncio.sleep(0.03)
    policy.changed()  # a second sign-in re-arms the wait
    assert policy.freezes == 0
    kept = Cycle()
    await asyncio.wait_for(policy.frozen.wait(), 1)
    assert policy.freezes == 1 and policy.full_collections == 0
    assert gc.get_freeze_count() > 0
    # frozen: not in any generation an automatic collection walks
    assert not any(o is kept for g in range(3) for o in gc.get_objects(g))


async def test_the_young_garbage_is_collected_before_a_freeze():
    policy = GcPolicy(settle=0.01, freeze_interval=0, full_interval=0)
    garbage = Cycle()
    gone = weakref.ref(garbage)
    del garbage  # unreachable: only a collection reclaims it
    policy.changed()
    await asyncio.wait_for(policy.frozen.wait(), 1)
    assert gone() is None


async def test_the_full_collection_reclaims_cycles_that_died_frozen():
    policy = GcPolicy(settle=0.01, freeze_interval=0, full_interval=0)
    cycle = Cycle()
    alive = weakref.ref(cycle)
    policy.changed()
    await asyncio.wait_for(policy.frozen.wait(), 1)
    del cycle  # e.g. the session of an agent who signed out
    gc.collect()  # what an automatic collection could do: frozen, it stays
    assert alive() is not None
    policy.collect_all()
    assert alive() is None
    assert policy.full_collections == 1 and gc.get_freeze_count() > 0  # frozen again


async def test_full_collections_come_every_full_interval_until_stopped():
    policy = GcPolicy(full_interval=0.02)
    policy.start()
    try:
        await asyncio.wait_for(policy.frozen.wait(), 1)
        policy.frozen.clear()
        await asyncio.wait_for(policy.frozen.wait(), 1)
        assert policy.full_collections >= 2
    finally:
        policy.stop()
    assert policy._full is None and policy._settle is None  # no timer left to fire
    assert gc.get_freeze_count() == 0  # everything back in the collector's sight


async def test_while_settled_young_objects_are_frozen_until_the_next_sign_in():
    policy = GcPolicy(settle=0.01, freeze_interval=0.01, full_interval=0)
    try:
        policy.changed()
        await next_freeze(policy)
        assert policy.settled and (policy.freezes, policy.young_freezes) == (1, 0)
        young = Cycle()
        await next_freeze(policy)
        assert policy.young_freezes == 1
        assert not any(o is young for g in range(3) for o in gc.get_objects(g))
        policy.changed()  # a sign-in: its garbage cycles must meet the collector
        assert not policy.settled and policy._young is None
        await next_freeze(policy)
        assert policy.settled and (policy.freezes, policy.young_freezes) == (2, 1)
        await next_freeze(policy)
        assert policy.young_freezes == 2
    finally:
        policy.stop()


async def next_freeze(policy: GcPolicy) -> None:
    policy.frozen.clear()
    await asyncio.wait_for(policy.frozen.wait(), 1)


def test_the_full_interval_is_configurable_and_checked():
    assert load(env={"MOBAGENT_CONNECTOR_GC_FULL_INTERVAL": "0"}).gc_full_interval == 0
    assert load(env={"MOBAGENT_CONNECTOR_GC_FREEZE_INTERVAL": "0.5"}).gc_freeze_interval == 0.5
    for name in ("GC_FULL_INTERVAL", "GC_FREEZE_INTERVAL"):
        with pytest.raises(ConfigError):
            load(env={f"MOBAGENT_CONNECTOR_{name}": "-1"})
    with pytest.raises(ValueError):
        GcPolicy(settle=0)
