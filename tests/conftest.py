"""Shared fixtures: real nodes (real SQLite files, real sockets on 127.0.0.1, real mutual TLS)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support import Cluster, running_cluster


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    """USA, JPN and KOR nodes of camp-david, federated, in this test's event loop."""
    async with running_cluster(tmp_path) as c:
        yield c
