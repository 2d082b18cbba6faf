"""GET /api/v1/ledger/head: a signed RFC 9162 tree head over exactly the durable events."""

from __future__ import annotations

import sqlite3

import pytest

from hotline.errors import BadSignature
from hotline.ledger.head import TreeHead, verify_head
from hotline.ledger.merkle import consistency_proof, leaf_hash, root_of_hashes, verify_consistency
from hotline.signing import load_public_key
from tests.support import Cluster

pytestmark = pytest.mark.anyio


def _leaves(db: str) -> list[bytes]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return [leaf_hash(bytes(r[0])) for r in conn.execute("SELECT raw FROM events ORDER BY seq")]
    finally:
        conn.close()


async def test_head_is_signed_and_matches_the_log(cluster: Cluster) -> None:
    usa = await cluster["USA"].login("usa.nsa")
    for i in range(3):
        r = await usa.post(
            "/api/v1/channels/nsa.usa-jpn/messages", json={"precedence": "routine", "body": f"m{i}"}
        )
        assert r.status_code == 201
    first = (await usa.get("/api/v1/ledger/head")).json()
    db = str(cluster["USA"].node_dir / "hotline.db")
    leaves = _leaves(db)
    assert first["size"] == len(leaves) >= 3
    assert first["root"] == root_of_hashes(leaves).hex()
    head = TreeHead(
        nation=first["nation"],
        size=first["size"],
        root=first["root"],
        at=first["at"],
        sig=first["sig"],
    )
    key = load_public_key(first["signing_key"])
    verify_head(head, key.verify)  # raises on a bad signature
    forged = TreeHead(nation=head.nation, size=head.size, root="0" * 64, at=head.at, sig=head.sig)
    with pytest.raises(BadSignature):
        verify_head(forged, key.verify)

    await usa.post(
        "/api/v1/channels/nsa.usa-jpn/messages", json={"precedence": "flash", "body": "x"}
    )
    second = (await usa.get("/api/v1/ledger/head")).json()
    assert second["size"] > first["size"]
    leaves = _leaves(db)[: second["size"]]
    proof = consistency_proof(leaves, first["size"])
    assert verify_consistency(
        first["size"],
        second["size"],
        bytes.fromhex(first["root"]),
        bytes.fromhex(second["root"]),
        proof,
    )


async def test_head_needs_a_token(cluster: Cluster) -> None:
    import httpx

    async with httpx.AsyncClient(base_url=cluster["JPN"].url) as anon:
        r = await anon.get("/api/v1/ledger/head")
    assert r.status_code == 401 and r.json()["error"]["code"] == "no_token"
