"""Ingress: a node refuses raw reports the compact does not release to it, even when the
sender (here a JPN node that ignores its own egress rule) pushes them anyway."""

from __future__ import annotations

import time
from pathlib import Path

import msgspec
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from hotline.compacts import load_compact
from hotline.domain.events import Envelope, encode_envelope
from hotline.domain.ids import EventId, NationCode
from hotline.domain.sharing import raw_rel_to
from hotline.domain.warning_events import ReportRecord, ReportsReceived
from hotline.federation import wire
from hotline.ledger.chain import GENESIS
from hotline.pki import client_context
from hotline.ports import new_id
from hotline.signing import Signer, load_signing_key
from tests.integration.federation_support import db_rows, federated, federation_port
from tests.integration.warning_support import db_bytes

pytestmark = pytest.mark.anyio

UID = "fps5-sado.ingress-probe"


async def test_a_peer_pushing_raw_reports_beyond_the_rule_is_refused(tmp_path: Path) -> None:
    compact = load_compact("camp-david")
    jpn = NationCode("JPN")
    async with federated(tmp_path, running=("USA", "KOR")) as cluster:
        pki = cluster["JPN"].node_dir / "pki"
        cas = [cluster[n].node_dir / "pki" / "ca.crt" for n in ("USA", "JPN", "KOR")]
        ctx = client_context(pki / "node.crt", pki / "node.key", cas)
        signer = Signer("JPN", load_signing_key(cluster["JPN"].node_dir / "signing.key"))
        now = time.time()
        body = ReportsReceived(
            batch_id=new_id("rep-jpn"),
            nation=jpn,
            reports=(ReportRecord(UID, "fps5-sado", now, 39.2, 125.7, 16_000.0, 300.0, 300.0),),
            at=now,
        )
        rel_to = raw_rel_to(compact.sharing, jpn, compact.nations)
        assert rel_to == ("USA", "JPN")  # KOR is not in it
        env = signer.sign_envelope(
            Envelope(id=EventId(new_id("e-jpn")), origin=jpn, at=now, rel_to=rel_to, body=body)
        )
        raw = encode_envelope(env)
        item = wire.StreamItem(
            origin="JPN",
            destination="KOR",
            seq=1,
            prev_hash=GENESIS.hex(),
            event=msgspec.Raw(raw),
        )
        port = federation_port(cluster, "KOR")
        replies: list[object] = []
        async with connect(
            f"wss://127.0.0.1:{port}/federation/v1/stream", ssl=ctx, server_hostname="127.0.0.1"
        ) as ws:
            hello = wire.to_sender.decode(await ws.recv(decode=False))
            assert isinstance(hello, wire.Hello) and hello.nation == "KOR"
            await ws.send(wire.encoder.encode(wire.Batch(items=[item])))
            try:
                while True:
                    replies.append(wire.to_sender.decode(await ws.recv(decode=False)))
            except ConnectionClosed:
                pass
        refusal = replies[-1]
        assert isinstance(refusal, wire.Refused) and refusal.code == "not_releasable", replies
        kor = cluster["KOR"].node_dir
        refused = db_rows(kor / "hotline.db", "SELECT peer, code, raw FROM refused")
        assert refused == [("JPN", "not_releasable", None)]  # recorded, without the event
        assert db_rows(kor / "hotline.db", "SELECT COUNT(*) FROM reports") == [(0,)]
        assert UID.encode() not in db_bytes(kor)
