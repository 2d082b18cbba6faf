"""In-process fan-out of committed events to the officials' live streams.

Each subscription is one official's connection with its own precedence queue: when a stream
falls behind, a FLASH pushed after any amount of ROUTINE is the next frame it gets. Payloads
are encoded once per event, not once per subscriber.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from hotline.domain.compact import Official
from hotline.domain.ids import Handle
from hotline.domain.precedence import PrecedenceQueue

#: A queue bigger than this means the client stopped reading: it is disconnected (it will
#: reconnect and catch up from history) rather than let the node's memory grow without bound.
MAX_QUEUED = 50_000


@dataclass(slots=True, frozen=True)
class Item:
    rank: int
    payload: bytes
    #: Who may see it: a predicate on the official.
    visible: Callable[[Official], bool]
    #: Officials who get it whatever ``visible`` says (escalation calls; own-nation only).
    also: frozenset[Handle] = frozenset()


@dataclass(eq=False)
class Subscription:
    official: Official
    queue: PrecedenceQueue[bytes] = field(default_factory=PrecedenceQueue)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    overflowed: bool = False

    def offer(self, item: Item) -> None:
        if self.overflowed:
            return
        if item.visible(self.official) or self.official.handle in item.also:
            if len(self.queue) >= MAX_QUEUED:
                self.overflowed = True
            else:
                self.queue.push(item.rank, item.payload)
            self.ready.set()

    async def next_batch(self, limit: int = 256) -> list[bytes]:
        """Wait for frames; return up to ``limit`` in precedence order."""
        while not self.queue:
            if self.overflowed:
                return []
            self.ready.clear()
            await self.ready.wait()
        return self.queue.drain(limit)


class MemoryBus:
    def __init__(self) -> None:
        self._subs: set[Subscription] = set()

    def subscribe(self, official: Official) -> Subscription:
        sub = Subscription(official)
        self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subs.discard(sub)

    def publish(self, items: list[Item]) -> None:
        for sub in tuple(self._subs):
            for item in items:
                sub.offer(item)

    @property
    def subscribers(self) -> int:
        return len(self._subs)
