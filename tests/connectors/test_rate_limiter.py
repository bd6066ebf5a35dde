"""The client-side rate limiter (connectors.http.RateLimiter), on a fake clock."""

from __future__ import annotations

import random
import time

import pytest

from connectors.http import RateLimiter

PERSONIO_LIMITS = ((15, 1.0), (300, 60.0))


class FakeClock:
    """A monotonic clock that only moves when the limiter sleeps (or a test says so)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def most_in_any_window(times: list[float], seconds: float) -> int:
    """The largest number of ``times`` in any half-open window [t, t + seconds)."""
    most, start = 0, 0
    for end, at in enumerate(times):
        while times[start] + seconds <= at:
            start += 1
        most = max(most, end - start + 1)
    return most


def test_a_thousand_requests_never_put_more_than_15_in_a_second_or_300_in_a_minute():
    clock = FakeClock()
    limiter = RateLimiter(PERSONIO_LIMITS, clock=clock, sleep=clock.sleep)
    jitter = random.Random(7)  # the caller's own work between requests, seeded
    times = []
    for _ in range(1000):
        limiter.acquire()
        times.append(clock.now)
        clock.now += jitter.choice([0.0, 0.0, 0.001, 0.02, 0.3])

    assert most_in_any_window(times, 1.0) == 15
    assert most_in_any_window(times, 60.0) == 300
    # Not luck and not over-cautious either: the 1,000th request goes in the
    # fourth minute, as soon as the minute's limit lets it.
    assert 180.0 <= times[-1] - times[0] < 200.0


def test_requests_under_the_limits_do_not_wait():
    clock = FakeClock()
    waits: list[float] = []
    limiter = RateLimiter(PERSONIO_LIMITS, clock=clock, sleep=clock.sleep, on_wait=waits.append)

    waited = [limiter.acquire() for _ in range(15)]
    clock.now += 1.0
    waited += [limiter.acquire() for _ in range(15)]

    assert waited == [0.0] * 30
    assert clock.sleeps == []
    assert waits == []


def test_the_sixteenth_request_in_a_second_waits_until_the_first_leaves_the_window():
    clock = FakeClock()
    waits: list[float] = []
    limiter = RateLimiter(PERSONIO_LIMITS, clock=clock, sleep=clock.sleep, on_wait=waits.append)
    for _ in range(15):
        limiter.acquire()
    clock.now += 0.25

    waited = limiter.acquire()

    assert waited == pytest.approx(0.75)
    assert clock.sleeps == waits == [pytest.approx(0.75)]
    assert clock.now == pytest.approx(1001.0)


def test_the_minute_limit_holds_even_when_each_second_is_under_its_own():
    clock = FakeClock()
    limiter = RateLimiter(PERSONIO_LIMITS, clock=clock, sleep=clock.sleep)
    for _ in range(300):  # 10 a second for 30 seconds
        limiter.acquire()
        clock.now += 0.1
    started = clock.now

    limiter.acquire()

    # The first of the 300 went at 1000.0: the 301st waits for 1060.0.
    assert clock.now == pytest.approx(1060.0)
    assert clock.now - started == pytest.approx(30.0)


def test_a_sleep_that_ends_early_is_followed_by_a_wait_for_the_rest():
    clock = FakeClock()
    woken_early = []

    def early_sleep(seconds: float) -> None:
        if not woken_early:  # a signal cuts the first sleep short
            woken_early.append(seconds)
            seconds /= 4
        clock.sleep(seconds)

    limiter = RateLimiter(((1, 10.0),), clock=clock, sleep=early_sleep)
    limiter.acquire()

    waited = limiter.acquire()

    assert clock.sleeps == [2.5, 7.5]
    assert waited == 10.0
    assert clock.now == 1010.0


def test_a_request_sent_in_a_slot_counts_from_when_its_answer_came():
    clock = FakeClock()
    limiter = RateLimiter(((2, 1.0),), clock=clock, sleep=clock.sleep)
    with limiter.slot():
        clock.now += 0.5  # the first request takes half a second to answer
    with limiter.slot():
        pass

    limiter.acquire()

    # Counted from 1000.5, not 1000.0: the vendor may have received the
    # first request as late as that, and the third may not arrive before
    # a second has passed since.
    assert clock.now == 1001.5


def test_a_slot_counts_its_request_even_when_the_request_fails():
    clock = FakeClock()
    limiter = RateLimiter(((1, 1.0),), clock=clock, sleep=clock.sleep)

    with pytest.raises(OSError), limiter.slot():
        raise OSError("connection reset")
    limiter.acquire()

    assert clock.sleeps == [1.0]


def test_the_real_clock_is_the_default():
    limiter = RateLimiter(((2, 0.2),))
    started = time.monotonic()

    for _ in range(3):
        limiter.acquire()

    assert time.monotonic() - started >= 0.19


@pytest.mark.parametrize("limits", [(), ((0, 1.0),), ((5, 0.0),), ((5, -1.0),)])
def test_a_limit_that_allows_nothing_is_refused(limits):
    with pytest.raises(ValueError):
        RateLimiter(limits)
