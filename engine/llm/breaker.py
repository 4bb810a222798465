"""A circuit breaker for the language model.

When the model keeps failing, waiting out a timeout on every turn makes the bot
feel broken; it is better to skip the model for a while and say the fallback at
once. After `threshold` consecutive failures the breaker opens; once `cooldown`
seconds have passed it lets one trial call through (half-open); that trial's
outcome closes the breaker or opens it for another cooldown.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Literal

BreakerState = Literal["closed", "open", "half-open"]


class CircuitBreaker:
    """Thread-safe: sessions may run turns, and so model calls, in parallel threads."""

    def __init__(self, threshold: int = 3, cooldown: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if threshold < 1:
            raise ValueError("threshold must be 1 or more")
        if cooldown < 0:
            raise ValueError("cooldown must be 0 or more")
        self.threshold = threshold
        self.cooldown = cooldown
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0  # consecutive, while closed
        self._opened_at: float | None = None  # None while closed
        # When the running half-open trial started. A trial whose caller never reports
        # back expires after one cooldown, so a lost call cannot keep the breaker shut.
        self._trial_started: float | None = None

    @property
    def state(self) -> BreakerState:
        with self._lock:
            return self._state(self._clock())

    def allow(self) -> bool:
        """Whether a call may go to the model now. In half-open, saying yes claims
        the one trial: the caller must report its outcome."""
        with self._lock:
            now = self._clock()
            state = self._state(now)
            if state == "closed":
                return True
            if state == "open" or self._trial_running(now):
                return False
            self._trial_started = now
            return True

    def record_success(self) -> None:
        with self._lock:
            self._failures = 0
            self._opened_at = None
            self._trial_started = None

    def record_failure(self) -> None:
        with self._lock:
            now = self._clock()
            if self._opened_at is None:
                self._failures += 1
                if self._failures >= self.threshold:
                    self._opened_at = now
            elif self._trial_started is not None:
                # The trial failed: the model is still down, wait another cooldown.
                self._opened_at = now
                self._trial_started = None
            # Otherwise a call let through before the breaker opened failed late: the
            # breaker already knows, and restarting the cooldown would only delay the trial.

    def retry_in(self) -> float:
        """Seconds until a call would be allowed: 0 when closed or a trial is free."""
        with self._lock:
            now = self._clock()
            if self._opened_at is None:
                return 0.0
            if self._trial_running(now) and self._trial_started is not None:
                return max(0.0, self._trial_started + self.cooldown - now)
            return max(0.0, self._opened_at + self.cooldown - now)

    def _state(self, now: float) -> BreakerState:
        if self._opened_at is None:
            return "closed"
        return "half-open" if now - self._opened_at >= self.cooldown else "open"

    def _trial_running(self, now: float) -> bool:
        return self._trial_started is not None and now - self._trial_started < self.cooldown
