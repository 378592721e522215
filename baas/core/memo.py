"""A bounded memo for the write path: values worth computing once per tenant, IP or schema name,
kept in a dict that starts over when it holds ``size`` entries (whatever clients send, memory
stays bounded)."""

from __future__ import annotations

from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Memo(dict[K, V], Generic[K, V]):
    def __init__(self, size: int = 10_000) -> None:
        super().__init__()
        self.size = size

    def keep(self, key: K, value: V) -> V:
        if len(self) >= self.size:
            self.clear()
        self[key] = value
        return value
