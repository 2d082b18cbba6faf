"""The small interfaces the service layer needs; adapters implement them."""

from __future__ import annotations

import os
import random
import sqlite3
import time
from collections.abc import Callable
from typing import Protocol, TypeVar

from hotline.domain.events import Envelope

T = TypeVar("T")


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the Unix epoch, UTC."""
        ...


class SystemClock:
    def now(self) -> float:
        return time.time()


class FakeClock:
    """A clock tests move by hand."""

    def __init__(self, start: float = 1_790_000_000.0) -> None:
        self.t = start

    def now(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


class Store(Protocol):
    reader: sqlite3.Connection
    #: Called in the writer whenever a job or a transaction is rolled back.
    on_rollback: list[Callable[[], None]]

    async def run(
        self, fn: Callable[[sqlite3.Connection], T], *, urgent: bool = False, preempt: bool = False
    ) -> T: ...


class Signer(Protocol):
    nation: str

    def sign_envelope(self, env: Envelope) -> Envelope: ...


#: Ids need to be unique, not secret (every read is authorised): a generator seeded from the
#: OS (and again in a forked child) instead of a ``getrandom`` system call per id.
_ids = random.Random(os.urandom(16))
os.register_at_fork(after_in_child=lambda: _ids.seed(os.urandom(16)))


def new_id(prefix: str) -> str:
    """``<prefix>-<ms since epoch, hex>-<8 random hex>``: unique, roughly time-ordered."""
    return f"{prefix}-{int(time.time() * 1000):x}-{_ids.getrandbits(32):08x}"
