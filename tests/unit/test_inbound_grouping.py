"""Which peers' batches a node commits at once and which it groups (``Inbound._apply``): a node
with few peers commits each batch on the loop when its writer is idle; one with many (NATO's
32) lets the batches that arrive together share a commit, except a FLASH message."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from hotline.federation.inbound import GROUP_FROM_PEERS, Inbound


def _inbound(peers: int) -> Inbound:
    svc: Any = SimpleNamespace(nation="USA")
    trust: Any = SimpleNamespace(peers={f"P{i:02d}": object() for i in range(peers)})
    return Inbound(svc, trust, "127.0.0.1", 0)


def test_three_nations_commit_each_batch_at_once_and_nato_groups_them() -> None:
    assert _inbound(2)._few_peers  # Camp David: two peers
    assert _inbound(3)._few_peers  # the Quad
    assert not _inbound(31)._few_peers  # NATO's 32
    assert _inbound(GROUP_FROM_PEERS - 1)._few_peers
    assert not _inbound(GROUP_FROM_PEERS)._few_peers
