"""The store's writer thread: group commit, a failing job rolled back alone, and the gathering
wait under load (``SqliteStore`` docstring), on a real SQLite file."""

from __future__ import annotations

import asyncio
import concurrent.futures
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hotline.store.sqlite import SqliteStore

pytestmark = pytest.mark.anyio


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "writer.db", gather_s=0.25)
    s.start()
    yield s
    s.close()


def _insert(x: int) -> Callable[[sqlite3.Connection], int]:
    def job(conn: sqlite3.Connection) -> int:
        conn.execute("INSERT INTO t (x) VALUES (?)", (x,))
        return x

    return job


def _rows(store: SqliteStore) -> list[int]:
    return [r[0] for r in store.reader.execute("SELECT x FROM t ORDER BY x")]


async def _gated(store: SqliteStore) -> tuple[threading.Event, asyncio.Future[None]]:
    """A job that holds the writer until the event is set (so jobs can be queued behind it)."""
    gate = threading.Event()
    entered = threading.Event()

    def hold(conn: sqlite3.Connection) -> None:
        entered.set()
        assert gate.wait(10), "test gate never opened"

    fut = asyncio.ensure_future(store.run(hold))
    while not entered.is_set():
        await asyncio.sleep(0.001)
    return gate, fut


async def _commit_a_pair(store: SqliteStore) -> None:
    """Rows 1 and 2 committed together (queued behind a held job), after that job alone."""
    gate, held = await _gated(store)
    pair = [asyncio.ensure_future(store.run(_insert(i))) for i in (1, 2)]
    await asyncio.sleep(0.01)  # both queued: the writer is held
    before = store.stats.commits
    gate.set()
    await held
    assert await asyncio.gather(*pair) == [1, 2]
    assert store.stats.commits - before == 2  # the held job's commit, then the pair's


async def _table(store: SqliteStore) -> None:
    await store.run(lambda conn: conn.execute("CREATE TABLE t (x INTEGER)"))


async def test_jobs_queued_while_the_writer_is_busy_share_one_commit(store: SqliteStore) -> None:
    await _table(store)
    gate, held = await _gated(store)
    jobs = [asyncio.ensure_future(store.run(_insert(i))) for i in range(50)]
    await asyncio.sleep(0.01)  # every job is queued (none can commit: the writer is held)
    before = store.stats.commits
    gate.set()
    await held
    assert await asyncio.gather(*jobs) == list(range(50))
    assert store.stats.commits - before == 2  # the held job's commit, then all 50 in one
    assert _rows(store) == list(range(50))


async def test_a_failing_job_is_rolled_back_alone(store: SqliteStore) -> None:
    await _table(store)
    gate, held = await _gated(store)

    def bad(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO t (x) VALUES (99)")
        raise ValueError("refused")

    ok1 = asyncio.ensure_future(store.run(_insert(1)))
    failing = asyncio.ensure_future(store.run(bad))
    ok2 = asyncio.ensure_future(store.run(_insert(2)))
    await asyncio.sleep(0.01)
    gate.set()
    await held
    assert await ok1 == 1 and await ok2 == 2
    with pytest.raises(ValueError, match="refused"):
        await failing
    assert _rows(store) == [1, 2]


async def test_under_load_the_writer_waits_once_and_commits_what_arrived_meanwhile(
    store: SqliteStore,
) -> None:
    """After a commit of several jobs, the next job waits ``gather_s`` and takes along the
    jobs queued during the wait: one commit for both. A FLASH (``urgent``) job and a job after
    a lone commit are not delayed."""
    loop = asyncio.get_running_loop()
    waits: list[float] = []
    late: list[concurrent.futures.Future[int]] = []

    def wait_and_see_another_job_arrive(seconds: float) -> None:
        waits.append(seconds)
        late.append(asyncio.run_coroutine_threadsafe(store.run(_insert(3)), loop))
        deadline = time.monotonic() + 10
        while store._queue.empty():  # the late job is queued by the loop
            assert time.monotonic() < deadline
            time.sleep(0.001)

    store.gather_sleep = wait_and_see_another_job_arrive
    await _table(store)
    await _commit_a_pair(store)  # the writer is "under load" now
    assert waits == []  # that commit followed a lone one (the held job)

    before = store.stats.commits
    assert await store.run(_insert(4)) == 4
    assert await asyncio.wrap_future(late[0]) == 3
    assert waits == [0.25] and store.stats.gathered == 1
    assert store.stats.commits - before == 1  # 4 and the late 3 in one commit

    # The previous commit held two jobs, but a FLASH is not delayed.
    store.inline_urgent = False  # through the writer thread (the inline path: below)
    assert await store.run(_insert(5), urgent=True) == 5
    # After a lone commit (the FLASH), nothing is delayed either.
    assert await store.run(_insert(6)) == 6
    assert waits == [0.25]
    assert _rows(store) == [1, 2, 3, 4, 5, 6]


async def test_an_urgent_job_finding_the_writer_idle_commits_on_the_loop(
    store: SqliteStore,
) -> None:
    await _table(store)
    loop_thread = threading.current_thread()  # the inline path runs here

    def where(conn: sqlite3.Connection) -> threading.Thread:
        conn.execute("INSERT INTO t (x) VALUES (7)")
        return threading.current_thread()

    assert await store.run(where, urgent=True) is loop_thread
    assert store.stats.inline == 1 and _rows(store) == [7]  # durable, visible to readers

    def refused(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO t (x) VALUES (8)")
        raise ValueError("refused inline")

    with pytest.raises(ValueError, match="refused inline"):
        await store.run(refused, urgent=True)
    assert _rows(store) == [7]  # rolled back alone, as in the writer

    # Writer busy (a transaction open): the urgent job queues behind it, in the writer thread.
    gate, held = await _gated(store)
    behind = asyncio.ensure_future(store.run(where, urgent=True))
    await asyncio.sleep(0.01)
    assert not behind.done()  # it did not commit beside the open transaction
    gate.set()
    await held
    assert await behind is not loop_thread
    assert store.stats.inline == 2  # the refused job counted; the queued one did not
    assert _rows(store) == [7, 7]


class _WatchedLock:
    """The writer's lock, telling when a job starts waiting for it with a timeout (preempt)."""

    def __init__(self, lock: threading.Lock) -> None:
        self.lock = lock
        self.waiting = threading.Event()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if timeout > 0:
            self.waiting.set()
        return self.lock.acquire(blocking, timeout)

    def release(self) -> None:
        self.lock.release()


def _where(x: int) -> Callable[[sqlite3.Connection], threading.Thread]:
    def job(conn: sqlite3.Connection) -> threading.Thread:
        conn.execute("INSERT INTO t (x) VALUES (?)", (x,))
        return threading.current_thread()

    return job


async def test_a_preempting_job_commits_on_the_loop_before_the_jobs_queued(
    store: SqliteStore,
) -> None:
    """A FLASH does not queue behind the writer: it waits on the loop for the (small)
    transaction in flight, then commits there, before a job that was queued first."""
    await _table(store)
    watched = _WatchedLock(store._busy)
    store._busy = watched  # type: ignore[assignment]
    store.preempt_wait_s = 30.0  # the held transaction ends once the FLASH waits for it
    gate, held = await _gated(store)
    queued = asyncio.ensure_future(store.run(_insert(1)))
    await asyncio.sleep(0.01)  # queued behind the held transaction

    def open_once_waiting() -> None:
        if watched.waiting.wait(10):
            gate.set()

    opener = threading.Thread(target=open_once_waiting)
    opener.start()
    try:
        assert await store.run(_where(9), urgent=True, preempt=True) is threading.current_thread()
    finally:
        gate.set()
        opener.join()
    await held
    assert await queued == 1
    order = [r[0] for r in store.reader.execute("SELECT x FROM t ORDER BY rowid")]
    assert order == [9, 1]  # the FLASH committed first
    assert store.stats.preempted == 1 and store.stats.inline == 1


async def test_a_preempting_job_queues_behind_a_large_or_long_transaction(
    store: SqliteStore,
) -> None:
    await _table(store)
    loop_thread = threading.current_thread()
    for setting in ("large", "long"):
        if setting == "large":  # the transaction in flight holds more jobs than allowed
            store.preempt_max_jobs = 0
        else:  # it does not end within the wait
            store.preempt_max_jobs, store.preempt_wait_s = 16, 0.001
        gate, held = await _gated(store)
        behind = asyncio.ensure_future(store.run(_where(9), urgent=True, preempt=True))
        await asyncio.sleep(0.01)
        assert not behind.done()  # queued, not committed beside the open transaction
        gate.set()
        await held
        assert await behind is not loop_thread  # the writer thread committed it
    assert store.stats.preempted == 0 and store.stats.inline == 0
    assert _rows(store) == [9, 9]


async def test_a_store_without_gathering_never_waits(tmp_path: Path) -> None:
    s = SqliteStore(tmp_path / "w.db")
    s.gather_sleep = lambda seconds: pytest.fail(f"waited {seconds} s")
    s.start()
    try:
        await _table(s)
        await _commit_a_pair(s)
        assert await s.run(_insert(3)) == 3
        assert s.stats.gathered == 0
    finally:
        s.close()


def test_savepoints_keep_their_page_images_in_memory(tmp_path: Path) -> None:
    """Every job runs under a SAVEPOINT: its sub-journal must not be a temporary file (tens of
    KB of writes per federated message; ``connect`` docstring)."""
    from hotline.store.sqlite import connect

    conn = connect(tmp_path / "m.db")
    try:
        assert conn.execute("PRAGMA temp_store").fetchone()[0] == 2  # MEMORY
    finally:
        conn.close()
