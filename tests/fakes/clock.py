"""A virtual clock for fakes and adapters: sleeping moves it on at once, so a test of rate
limits and backoff runs in no time yet sees every wait."""

from __future__ import annotations


class VirtualClock:
    def __init__(self, start: float = 1000.0):
        self.t = start
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += max(seconds, 0)

    @property
    def slept(self) -> float:
        return sum(self.sleeps)
