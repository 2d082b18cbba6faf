"""``federation.outbound.stop_task``: stopping a helper task never swallows the caller's own
cancellation (a link whose retry loop lost its cancellation would keep a stopping node alive)."""

from __future__ import annotations

import asyncio

import pytest

from hotline.federation.outbound import stop_task

pytestmark = pytest.mark.anyio


async def _slow_to_stop(stopping: asyncio.Event, release: asyncio.Event) -> None:
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        stopping.set()
        await release.wait()  # takes its time to end, as a task closing a socket does
        raise


async def test_the_callers_cancellation_is_not_swallowed() -> None:
    stopping, release = asyncio.Event(), asyncio.Event()
    helper = asyncio.create_task(_slow_to_stop(stopping, release))
    await asyncio.sleep(0)
    after: list[str] = []

    async def caller() -> None:
        try:
            raise ConnectionError("the link broke")
        except ConnectionError:
            await stop_task(helper)
        after.append("carried on")  # the retry loop would go round again

    outer = asyncio.create_task(caller())
    await stopping.wait()
    outer.cancel()  # the node stops while the helper is still ending
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await outer
    assert after == []
    assert helper.cancelled()


async def test_the_helpers_failure_is_returned() -> None:
    async def fails() -> None:
        raise RuntimeError("boom")

    task = asyncio.create_task(fails())
    await asyncio.sleep(0)
    failed = await stop_task(task)
    assert isinstance(failed, RuntimeError) and str(failed) == "boom"
    done = asyncio.create_task(asyncio.sleep(0))
    await done
    assert await stop_task(done) is None
