"""Sign-in limits: failures per agent id in a sliding window, a token bucket per address."""

from __future__ import annotations

import pytest

from connector.service.throttle import FailureWindow, RateLimiter, retry_seconds


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_agent_id_is_refused_after_the_limit_until_the_window_passes():
    clock = Clock()
    window = FailureWindow(3, 300.0, clock=clock)
    assert [window.failed("1001") for _ in range(3)] == [False, False, True]
    assert window.retry_after("1001") == pytest.approx(300.0)
    assert window.retry_after("1002") is None  # per agent id
    clock.now += 100
    assert window.retry_after("1001") == pytest.approx(200.0)
    clock.now += 200.5  # the oldest failure left the window
    assert window.retry_after("1001") is None


def test_a_success_clears_the_count():
    window = FailureWindow(3, 300.0, clock=Clock())
    window.failed("1001")
    window.failed("1001")
    window.succeeded("1001")
    assert not window.failed("1001") and window.retry_after("1001") is None


def test_made_up_ids_cannot_grow_the_windows_without_bound():
    window = FailureWindow(3, 300.0, clock=Clock(), max_keys=100)
    for i in range(10_000):
        window.failed(str(i))
    assert len(window) == 100


def test_a_bucket_allows_its_burst_then_the_rate():
    clock = Clock()
    bucket = RateLimiter(2.0, 5, clock=clock)
    assert [bucket.take("10.0.0.1") for _ in range(5)] == [None] * 5
    wait = bucket.take("10.0.0.1")
    assert wait == pytest.approx(0.5) and bucket.started
    assert bucket.take("10.0.0.1") is not None and not bucket.started  # still the same run
    assert bucket.take("10.0.0.2") is None  # per address
    clock.now += 0.5
    assert bucket.take("10.0.0.1") is None


def test_rate_zero_is_no_limit_and_keys_are_bounded():
    assert all(RateLimiter(0, 1).take("x") is None for _ in range(1000))
    bucket = RateLimiter(1.0, 1, clock=Clock(), max_keys=10)
    for i in range(1000):
        bucket.take(f"10.0.{i // 256}.{i % 256}")
    assert len(bucket) == 10


def test_retry_after_is_whole_seconds_and_at_least_one():
    assert (retry_seconds(0.01), retry_seconds(1.0), retry_seconds(1.2)) == (1, 1, 2)
