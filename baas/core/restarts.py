"""When a supervised process that exited is started again, or why it is not."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    first_delay: float  # seconds before the first restart; doubles with each exit in the window
    max_delay: float
    max_exits: int  # this many exits within the window stop everything
    window: float

    def recent(self, exits: Sequence[float], now: float) -> list[float]:
        """The exit times (monotonic seconds) still within the window."""
        return [t for t in exits if now - t < self.window]

    def delay(self, exits: Sequence[float], now: float) -> float | None:
        """Seconds to wait before restarting a process whose exits, the last one included, are
        ``exits``; None when it exited ``max_exits`` times within the window."""
        count = len(self.recent(exits, now))
        if count >= self.max_exits:
            return None
        return min(self.first_delay * 2 ** max(0, count - 1), self.max_delay)
