"""SQLite store: one writer thread with group commit, and a reader connection for the loop.

Every change is a *job*: a function run on the writer's connection inside a transaction. The
writer drains whatever jobs are queued, runs each under its own SAVEPOINT (one job's error
rolls back only that job), commits once with ``synchronous=FULL`` and only then resolves the
callers' futures. A resolved job is durable; a 201 built on it means the fsync happened.

Measured on this machine's class: group commit reaches tens of thousands of durable rows per
second where one commit per row manages about 3,000 (``docs/performance.md``).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from hotline.errors import StoreError

T = TypeVar("T")
Job = Callable[[sqlite3.Connection], T]

MAX_BATCH = 2000
#: A preempting job (``SqliteStore.run``) waits on the loop at most this long for the writer's
#: transaction in flight ...
PREEMPT_WAIT_S = 0.005
#: ... and only if that transaction holds at most this many jobs.
PREEMPT_MAX_JOBS = 16


@dataclass(slots=True)
class _Pending:
    fn: Callable[[sqlite3.Connection], Any]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    urgent: bool = False
    result: Any = None
    error: BaseException | None = None


@dataclass(slots=True)
class WriterStats:
    commits: int = 0
    jobs: int = 0
    largest_batch: int = 0
    #: Commits that waited ``gather_s`` for more jobs first.
    gathered: int = 0
    #: Urgent jobs committed on the caller's loop (the writer was idle, or they preempted it).
    inline: int = 0
    #: Of those, the ones that waited for the writer's transaction in flight (``preempt``).
    preempted: int = 0
    batch_sizes: list[int] = field(default_factory=list)


_STOP = object()


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """A connection in WAL mode with ``synchronous=FULL`` and autocommit (explicit BEGIN).

    ``temp_store=MEMORY``: every job, and every item of a peer's batch, runs under a SAVEPOINT,
    and SQLite keeps the original of each page a savepoint changes in a *sub-journal*, by
    default a temporary file: 40-60 KB of ``pwrite`` calls per federated message (ten to
    twenty page images). In memory it is a copy, truncated when the transaction's savepoints
    are released; the WAL and its fsync are unchanged (``docs/performance.md``).
    """
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=30.0)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA temp_store=MEMORY")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    if readonly:
        conn.execute("PRAGMA query_only=ON")
    return conn


def migrate(conn: sqlite3.Connection) -> int:
    """Apply every ``migrations/NNNN_*.sql`` not applied yet; returns the schema version."""
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    scripts = sorted(
        (
            p
            for p in resources.files("hotline.store").joinpath("migrations").iterdir()
            if p.name.endswith(".sql")
        ),
        key=lambda p: p.name,
    )
    for script in scripts:
        number = int(script.name.split("_", 1)[0])
        if number <= version:
            continue
        conn.executescript(
            "BEGIN IMMEDIATE;\n" + script.read_text() + f"\nPRAGMA user_version={number};\nCOMMIT;"
        )
        version = number
    return version


class SqliteStore:
    """The node's store. ``await store.run(job)`` returns once the job is durable.

    One writer thread commits the jobs queued since its last commit in ONE transaction
    (group commit: one fsync for them all). Under load (the previous commit held more than one
    job) it first waits ``gather_s`` for more, as PostgreSQL's ``commit_delay`` does with
    ``commit_siblings``: fewer, larger commits, so less CPU and disk per job; an ``urgent`` job
    (a FLASH message, a peer's batch) is committed without that wait. One job at a time is never
    delayed.

    An urgent job that finds the writer idle (nothing queued, no transaction open) is committed
    at once on the caller's event loop, on the writer's connection under the same lock: it
    saves the two thread hand-offs (queue, then back to the loop), 0.1 ms each way at the
    median and up to 1 ms at the 99th percentile on a busy 2-core box. The loop is blocked for
    that one commit, which is why only urgent jobs do it, and only when the writer has nothing
    else to do.

    A *preempting* job (a FLASH sent here, a peer's frame holding a FLASH) does not queue
    behind the writer: it
    waits on the loop for the transaction in flight to end (if that holds at most
    ``PREEMPT_MAX_JOBS`` jobs, and for at most ``PREEMPT_WAIT_S``), then commits there, before
    the jobs queued meanwhile. While the loop waits, the writer thread has the interpreter to
    itself, so its transaction ends sooner too; the FLASH saves the queue, the hand-offs and
    the writer's next transaction (federation bench, 8 pairs: the FLASH's p99 under load 9 %
    lower on average, docs/performance.md).
    """

    def __init__(self, path: Path, *, gather_s: float = 0.0) -> None:
        self.path = path
        self.gather_s = gather_s
        #: Commit an urgent job on the caller's loop when the writer is idle (class docstring).
        self.inline_urgent = True
        self._conn: sqlite3.Connection | None = None
        #: Held while a transaction is open on the writer's connection (thread or inline).
        self._busy = threading.Lock()
        #: Taken before ``_busy`` by the writer thread for each transaction, and by a preempting
        #: job while it waits: so the writer cannot start its next transaction before the job.
        self._door = threading.Lock()
        #: Jobs in the writer thread's transaction in flight (0: none); read by ``_inline``.
        self._inflight = 0
        #: How long, and behind how large a transaction, a preempting job waits (tests vary it).
        self.preempt_wait_s = PREEMPT_WAIT_S
        self.preempt_max_jobs = PREEMPT_MAX_JOBS
        #: How the writer waits while gathering (tests replace it).
        self.gather_sleep: Callable[[float], None] = time.sleep
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.stats = WriterStats()
        #: Told (in the writer thread) whenever a job or a whole transaction is rolled back:
        #: caches of what the transaction wrote must be dropped.
        self.on_rollback: list[Callable[[], None]] = []
        boot = connect(path)
        try:
            migrate(boot)
        finally:
            boot.close()
        self.reader = connect(path, readonly=True)

    def start(self) -> None:
        if self._thread is None:
            self._conn = connect(self.path)
            self._thread = threading.Thread(
                target=self._writer, args=(self._conn,), name="hotline-writer", daemon=True
            )
            self._thread.start()

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join()
            self._thread = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self.reader.close()

    async def run(
        self, fn: Callable[[sqlite3.Connection], T], *, urgent: bool = False, preempt: bool = False
    ) -> T:
        """Run ``fn(conn)`` in the writer's next transaction; return its result once durable.

        ``urgent``: commit it without the gathering wait, and here if the writer is idle;
        ``preempt`` (urgent jobs only): here, before the jobs queued, once the writer's small
        transaction in flight ends (class docstring)."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[T] = loop.create_future()
        job = _Pending(fn, loop, fut, urgent)
        conn = self._conn
        if urgent and self.inline_urgent and conn is not None and self._inline(preempt):
            # The writer is idle: commit here, on the loop, and save the two thread hand-offs.
            try:
                self._transact(conn, [job])
            finally:
                self._busy.release()
            self.stats.inline += 1
            if job.error is not None:
                raise job.error
            return job.result  # type: ignore[no-any-return]
        self._queue.put(job)
        return await fut

    def _inline(self, preempt: bool) -> bool:
        """Take the writer's connection for a job on the loop: at once if the writer is idle;
        if ``preempt``, once its small transaction in flight ends (blocking the loop, briefly)."""
        if self._queue.empty() and self._busy.acquire(blocking=False):
            return True
        if not preempt or self._inflight > self.preempt_max_jobs:
            return False
        deadline = time.monotonic() + self.preempt_wait_s
        if not self._door.acquire(timeout=self.preempt_wait_s):
            return False
        try:
            taken = self._busy.acquire(timeout=max(0.0, deadline - time.monotonic()))
        finally:
            self._door.release()
        self.stats.preempted += taken
        return taken

    def run_sync(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run a job from a thread with no event loop (CLI set-up): one immediate transaction."""
        conn = connect(self.path)
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return result
        finally:
            conn.close()

    # ---- the writer thread ----------------------------------------------------------------

    def _writer(self, conn: sqlite3.Connection) -> None:
        last = 0  # jobs in the previous commit
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch: list[_Pending] = [first]
            stop = False
            if last > 1 and self.gather_s > 0 and not first.urgent:
                self.gather_sleep(self.gather_s)  # releases the GIL: the loop queues more
                self.stats.gathered += 1
            while len(batch) < MAX_BATCH:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stop = True
                    break
                batch.append(nxt)
            with self._door:  # a preempting job waiting here goes first (``_inline``)
                self._busy.acquire()
            try:
                self._inflight = len(batch)
                self._transact(conn, batch)
            finally:
                self._inflight = 0
                self._busy.release()
            self._resolve_all(batch)
            last = len(batch)
            if stop:
                return

    def _rolled_back(self) -> None:
        for forget in self.on_rollback:
            forget()

    def _transact(self, conn: sqlite3.Connection, batch: list[_Pending]) -> None:
        try:
            conn.execute("BEGIN IMMEDIATE")
            for job in batch:
                conn.execute("SAVEPOINT job")
                try:
                    job.result = job.fn(conn)
                except BaseException as exc:  # handed to the caller, never swallowed
                    conn.execute("ROLLBACK TO job")
                    self._rolled_back()
                    job.error = exc
                conn.execute("RELEASE job")
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            self._rolled_back()
            failure = StoreError(f"commit failed: {exc}")
            for job in batch:
                job.error, job.result = failure, None
        self.stats.commits += 1
        self.stats.jobs += len(batch)
        self.stats.largest_batch = max(self.stats.largest_batch, len(batch))

    def _resolve_all(self, batch: list[_Pending]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[_Pending]] = {}
        for job in batch:
            by_loop.setdefault(job.loop, []).append(job)
        for loop, jobs in by_loop.items():
            # A closed loop means nobody waits for these jobs any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_resolve, jobs)


def _resolve(jobs: list[_Pending]) -> None:
    for job in jobs:
        if job.future.done():
            continue
        if job.error is not None:
            job.future.set_exception(job.error)
        else:
            job.future.set_result(job.result)
