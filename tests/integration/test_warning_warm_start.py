"""The fusion loop loads the territory table when it starts, not on the first launch's alert."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from hotline.bootstrap import build_node
from hotline.domain.ids import NationCode
from hotline.node import init_node
from hotline.service.warning import WARM_POINT
from hotline.settings import load_settings

pytestmark = pytest.mark.anyio


async def test_the_territory_table_is_loaded_before_any_report(tmp_path: Path) -> None:
    node_dir = tmp_path / "usa"
    init_node(node_dir, "USA", demo=True)
    node = build_node(load_settings(node_dir, {}), node_dir)
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
