"""A precedence queue: FLASH leaves before anything queued behind it, FIFO within a precedence.

Every outbound path that can build a backlog (an official's WebSocket, a federation stream
batch) drains through one of these, so a FLASH queued behind any amount of ROUTINE traffic is
delivered first.
"""

from __future__ import annotations

import heapq
from typing import Generic, TypeVar

T = TypeVar("T")


class PrecedenceQueue(Generic[T]):
    """Min-heap on ``(rank, arrival)``; ``rank`` 0 (FLASH) first. Not thread-safe."""

    __slots__ = ("_counter", "_heap")

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, T]] = []
        self._counter = 0

    def push(self, rank: int, item: T) -> None:
        self._counter += 1
        heapq.heappush(self._heap, (rank, self._counter, item))

    def pop(self) -> T:
        """The most urgent, oldest item; IndexError when empty."""
        return heapq.heappop(self._heap)[2]

    def drain(self, limit: int) -> list[T]:
        """Up to ``limit`` items in delivery order."""
        out: list[T] = []
        while self._heap and len(out) < limit:
            out.append(heapq.heappop(self._heap)[2])
        return out

    def __len__(self) -> int:
        return len(self._heap)

    def __bool__(self) -> bool:
        return bool(self._heap)
