"""A receiving node's receipts: one signed ``MessagesDelivered`` for the messages it gathered,
and none lost when the node stops before it signed them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.federation_support import (
    db_rows,
    federated,
    start_node,
    stop_node,
    tune_federation,
)
from tests.support import eventually

pytestmark = pytest.mark.anyio


async def test_receipts_gather_messages_and_survive_a_stop(tmp_path: Path) -> None:
    def slow_jpn(nation: str, node_dir: Path) -> None:
        if nation == "JPN":  # JPN holds its receipts far longer than the test runs
            tune_federation(node_dir, receipt_delay_s=3600.0)

    async with federated(tmp_path, tune=slow_jpn) as cluster:
        usa = await cluster["USA"].login("usa.ops")
        mids = []
        for n in range(5):
            resp = await usa.post(
                "/api/v1/channels/ops.usa-jpn-kor/messages",
                json={"precedence": "routine", "body": f"gathered {n}"},
            )
            assert resp.status_code == 201, resp.text
            mids.append(resp.json()["id"])

        async def receipts() -> tuple[bool, bool]:
            got = [(await usa.get(f"/api/v1/messages/{m}")).json()["receipts"] for m in mids]
            return (
                all(r["KOR"]["delivered_at"] for r in got),
                any(r["JPN"]["delivered_at"] for r in got),
            )

        async def kor_delivered() -> bool:
            return (await receipts())[0]

        await eventually(kor_delivered, what="KOR's receipts at USA")
        jpn_db = cluster["JPN"].node_dir / "hotline.db"
        held = db_rows(jpn_db, "SELECT COUNT(*) FROM messages WHERE nation = 'USA'")
        assert held == [(5,)]  # JPN has every message, and has not signed a receipt yet
        assert (await receipts())[1] is False
        # KOR signed fewer receipts than it received messages (one per gathering).
        kor_db = cluster["KOR"].node_dir / "hotline.db"
        kor_receipts = db_rows(
            kor_db,
            "SELECT COUNT(*) FROM events WHERE type = 'messages_delivered' AND origin = 'KOR'",
        )
        assert 1 <= kor_receipts[0][0] <= 5
        assert db_rows(kor_db, "SELECT COUNT(*) FROM events WHERE type = 'message_delivered'") == [
            (0,)
        ]

        # JPN stops before signing; restarted, it finds what it owes in its store.
        await stop_node(cluster["JPN"])
        tune_federation(cluster["JPN"].node_dir, receipt_delay_s=0.02)
        await start_node(cluster["JPN"])

        async def jpn_delivered() -> bool:
            got = [(await usa.get(f"/api/v1/messages/{m}")).json()["receipts"] for m in mids]
            return all(r["JPN"]["delivered_at"] for r in got)

        await eventually(jpn_delivered, what="JPN's receipts at USA after its restart")
        # One receipt for the five (they share a releasability), seen by KOR too.
        rows = db_rows(
            jpn_db,
            "SELECT raw FROM events WHERE type = 'messages_delivered' AND origin = 'JPN'",
        )
        assert len(rows) == 1
        assert all(m.encode() in bytes(rows[0][0]) for m in mids)
        kor = await cluster["KOR"].login("kor.ops")

        async def kor_sees_jpn() -> bool:
            got = [(await kor.get(f"/api/v1/messages/{m}")).json()["receipts"] for m in mids]
            return all(r["JPN"]["delivered_at"] for r in got)

        await eventually(kor_sees_jpn, what="JPN's receipts at KOR")
