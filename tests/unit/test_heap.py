"""The connector's garbage-collection policy (connector/heap.py)."""

from __future__ import annotations

import asyncio
import gc
import weakref

import pytest

from connector.config import ConfigError, load
from connector.heap import Heap


class Cycle:
    def __init__(self) -> None:
        self.me = self


@pytest.fixture(autouse=True)
def thawed():
    yield
    gc.unfreeze()
    gc.collect()


async def test_a_freeze_waits_for_sign_ins_to_settle_and_sets_everything_alive_aside():
    heap = Heap(settle=0.05, freeze_interval=0, full_interval=0)
    heap.changed()
    await asyncio.sleep(0.03)
    heap.changed()  # a second sign-in re-arms the wait
    assert heap.freezes == 0
    kept = Cycle()
    await asyncio.wait_for(heap.frozen.wait(), 1)
    assert heap.freezes == 1 and heap.full_collections == 0
    assert gc.get_freeze_count() > 0
    # frozen: not in any generation an automatic collection walks
    assert not any(o is kept for g in range(3) for o in gc.get_objects(g))


async def test_the_young_garbage_is_collected_before_a_freeze():
    heap = Heap(settle=0.01, freeze_interval=0, full_interval=0)
    garbage = Cycle()
    gone = weakref.ref(garbage)
    del garbage  # unreachable: only a collection reclaims it
    heap.changed()
    await asyncio.wait_for(heap.frozen.wait(), 1)
    assert gone() is None


async def test_the_full_collection_reclaims_cycles_that_died_frozen():
    heap = Heap(settle=0.01, freeze_interval=0, full_interval=0)
    cycle = Cycle()
    alive = weakref.ref(cycle)
    heap.changed()
    await asyncio.wait_for(heap.frozen.wait(), 1)
    del cycle  # e.g. the session of an agent who signed out
    gc.collect()  # what an automatic collection could do: frozen, it stays
    assert alive() is not None
    heap.collect_all()
    assert alive() is None
    assert heap.full_collections == 1 and gc.get_freeze_count() > 0  # frozen again


async def test_full_collections_come_every_full_interval_until_stopped():
    heap = Heap(full_interval=0.02)
    heap.start()
    try:
        await asyncio.wait_for(heap.frozen.wait(), 1)
        heap.frozen.clear()
        await asyncio.wait_for(heap.frozen.wait(), 1)
        assert heap.full_collections >= 2
    finally:
        heap.stop()
    assert heap._full is None and heap._settle is None  # no timer left to fire
    assert gc.get_freeze_count() == 0  # everything back in the collector's sight


async def test_while_settled_young_objects_are_frozen_until_the_next_sign_in():
    heap = Heap(settle=0.01, freeze_interval=0.01, full_interval=0)
    try:
        heap.changed()
        await next_freeze(heap)
        assert heap.settled and (heap.freezes, heap.young_freezes) == (1, 0)
        young = Cycle()
        await next_freeze(heap)
        assert heap.young_freezes == 1
        assert not any(o is young for g in range(3) for o in gc.get_objects(g))
        heap.changed()  # a sign-in: its garbage cycles must meet the collector
        assert not heap.settled and heap._young is None
        await next_freeze(heap)
        assert heap.settled and (heap.freezes, heap.young_freezes) == (2, 1)
        await next_freeze(heap)
        assert heap.young_freezes == 2
    finally:
        heap.stop()


async def next_freeze(heap: Heap) -> None:
    heap.frozen.clear()
    await asyncio.wait_for(heap.frozen.wait(), 1)


def test_the_full_interval_is_configurable_and_checked():
    assert load(env={"MOBAGENT_CONNECTOR_GC_FULL_INTERVAL": "0"}).gc_full_interval == 0
    assert load(env={"MOBAGENT_CONNECTOR_GC_FREEZE_INTERVAL": "0.5"}).gc_freeze_interval == 0.5
    for name in ("GC_FULL_INTERVAL", "GC_FREEZE_INTERVAL"):
        with pytest.raises(ConfigError):
            load(env={f"MOBAGENT_CONNECTOR_{name}": "-1"})
    with pytest.raises(ValueError):
        Heap(settle=0)
