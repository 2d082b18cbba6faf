"""The fusion loop loads the territory table when it starts, not on the first launch's alert."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from hotline.bootstrap import Node, build_node
from hotline.domain.ids import NationCode
from hotline.node import init_node
from hotline.service.warning import WARM_POINT
from hotline.settings import load_settings

pytestmark = pytest.mark.anyio


def _node(tmp_path: Path) -> Node:
    node_dir = tmp_path / "usa"
    init_node(node_dir, "USA", demo=True)
    return build_node(load_settings(node_dir, {}), node_dir)


async def test_the_territory_table_is_loaded_before_any_report(tmp_path: Path) -> None:
    node = _node(tmp_path)
    looked_up: list[tuple[float, float]] = []

    def territory(lat: float, lon: float) -> tuple[NationCode | None, str | None]:
        looked_up.append((lat, lon))
        return None, None

    node.warning.territory = territory
    loop = asyncio.create_task(node.warning.run())
    try:
        async with asyncio.timeout(10):
            while not looked_up:
                await asyncio.sleep(0.01)
    finally:
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)
        node.store.close()
    assert looked_up == [WARM_POINT]  # no report was posted: only the warm-up look-up


async def test_a_table_that_cannot_load_is_logged_and_the_loop_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    node = _node(tmp_path)

    def territory(lat: float, lon: float) -> tuple[NationCode | None, str | None]:
        raise OSError("territory table unreadable")

    node.warning.territory = territory
    loop = asyncio.create_task(node.warning.run())
    try:
        async with asyncio.timeout(10):
            while node.warning.stats.cycles < 2:  # the loop still fuses (its 0.25 s tick)
                await asyncio.sleep(0.01)
        assert not loop.done()
    finally:
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)
        node.store.close()
    assert "the territory table did not load at start" in caplog.text
