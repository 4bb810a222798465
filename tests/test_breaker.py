"""The circuit breaker that skips the model for a while after repeated failures."""

from __future__ import annotations

import threading

import pytest

from engine.llm.breaker import CircuitBreaker


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def opened(clock: FakeClock, threshold: int = 3, cooldown: float = 30.0) -> CircuitBreaker:
    breaker = CircuitBreaker(threshold=threshold, cooldown=cooldown, clock=clock)
    for _ in range(threshold):
        assert breaker.allow()
        breaker.record_failure()
    assert breaker.state == "open"
    return breaker


def test_a_new_breaker_is_closed_and_allows_calls() -> None:
    breaker = CircuitBreaker(clock=FakeClock())
    assert breaker.state == "closed"
    assert breaker.allow() and breaker.allow()
    assert breaker.retry_in() == 0.0


def test_it_opens_only_after_threshold_consecutive_failures() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(threshold=3, clock=clock)
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state == "closed" and breaker.allow()
    breaker.record_failure()
    assert breaker.state == "open"


def test_a_success_between_failures_resets_the_count() -> None:
    breaker = CircuitBreaker(threshold=3, clock=FakeClock())
    for _ in range(2):
        breaker.record_failure()
    breaker.record_success()
    for _ in range(2):
        breaker.record_failure()
    assert breaker.state == "closed"


def test_an_open_breaker_blocks_calls_until_the_cooldown_has_passed() -> None:
    clock = FakeClock()
    breaker = opened(clock, cooldown=30.0)
    assert not breaker.allow()
    assert breaker.retry_in() == 30.0
    clock.advance(29.5)
    assert not breaker.allow()
    assert breaker.state == "open"
    assert breaker.retry_in() == pytest.approx(0.5)
    clock.advance(0.5)
    assert breaker.state == "half-open"
    assert breaker.retry_in() == 0.0


def test_half_open_allows_exactly_one_trial_at_a_time() -> None:
    clock = FakeClock()
    breaker = opened(clock)
    clock.advance(30)
    assert breaker.allow()
    assert not breaker.allow()  # the trial is still running
    assert breaker.state == "half-open"
    assert breaker.retry_in() == 30.0  # until the running trial's lease runs out


def test_a_successful_trial_closes_the_breaker() -> None:
    clock = FakeClock()
    breaker = opened(clock)
    clock.advance(30)
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state == "closed"
    assert breaker.allow() and breaker.allow()
    breaker.record_failure()
    assert breaker.state == "closed"  # the failure count started again from zero


def test_a_failed_trial_reopens_the_breaker_for_another_cooldown() -> None:
    clock = FakeClock()
    breaker = opened(clock)
    clock.advance(30)
    assert breaker.allow()
    clock.advance(5)
    breaker.record_failure()
    assert breaker.state == "open"
    assert not breaker.allow()
    assert breaker.retry_in() == 30.0
    clock.advance(30)
    assert breaker.allow()  # the next trial


def test_a_late_failure_of_a_call_started_before_opening_does_not_restart_the_cooldown() -> None:
    clock = FakeClock()
    breaker = opened(clock)
    clock.advance(20)
    breaker.record_failure()
    assert breaker.retry_in() == 10.0


def test_a_trial_that_never_reports_back_expires_after_one_cooldown() -> None:
    clock = FakeClock()
    breaker = opened(clock)
    clock.advance(30)
    assert breaker.allow()
    clock.advance(30)
    assert breaker.allow()  # the lost trial no longer blocks a new one


def test_parallel_callers_get_only_one_half_open_trial() -> None:
    clock = FakeClock()
    breaker = opened(clock)
    clock.advance(30)
    allowed: list[bool] = []
    barrier = threading.Barrier(8)

    def attempt() -> None:
        barrier.wait()
        allowed.append(breaker.allow())

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert allowed.count(True) == 1


@pytest.mark.parametrize(("threshold", "cooldown"), [(0, 30.0), (3, -1.0)])
def test_nonsense_settings_are_refused(threshold: int, cooldown: float) -> None:
    with pytest.raises(ValueError):
        CircuitBreaker(threshold=threshold, cooldown=cooldown)
