"""Faults with real node processes: kill -9 the receiver, kill -9 the sender, cut the link.

Whatever happens, every message that got a 201 at USA arrives at each peer exactly once and in
USA's order (the order of USA's stream to that peer), read straight from the peer's SQLite file.
"""

from __future__ import annotations

import asyncio
import itertools
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hotline.demo import DemoCluster
from tests.integration.federation_support import (
    TcpProxy,
    db_rows,
    received_messages,
    stream_messages,
    tune_federation,
)
from tests.support import eventually, free_base_port

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

SENDERS = 12


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[DemoCluster]:
    cluster = DemoCluster(base_port=free_base_port(), root=tmp_path)
    try:
        yield cluster
    finally:
        cluster.cleanup()


def _db(cluster: DemoCluster, nation: str) -> Path:
    return cluster.dirs[nation] / "hotline.db"


async def _start(cluster: DemoCluster, *nations: str) -> None:
    for n in nations or tuple(cluster.nations):
        cluster.start(n)
    await asyncio.to_thread(cluster.wait_ready, 30.0, list(nations) or None)


async def _login(url: str, handle: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=url, timeout=10.0)
    resp = await client.post("/api/v1/login", json={"handle": handle, "password": handle})
    assert resp.status_code == 200, resp.text
    client.headers["authorization"] = f"Bearer {resp.json()['token']}"
    return client


class Senders:
    """``SENDERS`` concurrent HTTP clients of USA's ops centre posting numbered messages."""

    def __init__(self, cluster: DemoCluster, channel: str, nation: str = "USA") -> None:
        self.url = cluster.url(nation)
        self.handle = f"{nation.lower()}.ops"
        self.channel = channel
        self.ok: list[str] = []  # ids that got a 201
        self.failed = 0
        self._numbers = itertools.count()

    async def send(self, count: int, *, stop_on_error: bool = False) -> None:
        """Post ``count`` more messages."""
        clients = [await _login(self.url, self.handle) for _ in range(SENDERS)]
        tickets = iter(range(count))
        try:
            await asyncio.gather(*(self._worker(c, tickets, stop_on_error) for c in clients))
        finally:
            for c in clients:
                await c.aclose()

    async def _worker(
        self, client: httpx.AsyncClient, tickets: Iterator[int], stop_on_error: bool
    ) -> None:
        for _ in tickets:
            n = next(self._numbers)
            try:
                resp = await client.post(
                    f"/api/v1/channels/{self.channel}/messages",
                    json={"precedence": "routine", "body": f"fault test message {n}"},
                )
            except httpx.HTTPError:
                self.failed += 1
                if stop_on_error:
                    return
                continue
            assert resp.status_code == 201, resp.text
            self.ok.append(str(resp.json()["id"]))

    async def wait_for(self, count: int) -> None:
        while len(self.ok) < count:
            await asyncio.sleep(0.01)


async def _drained(cluster: DemoCluster, peers: tuple[str, ...], timeout_s: float = 40) -> None:
    """Until USA's stream to each of ``peers`` is fully acknowledged."""
    client = await _login(cluster.url("USA"), "usa.ops")
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            status = {p["nation"]: p for p in (await client.get("/api/v1/peers")).json()}
            if all(status[p]["connected"] and status[p]["backlog"] == 0 for p in peers):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"USA's streams did not drain: {status}")
            await asyncio.sleep(0.1)
    finally:
        await client.aclose()


def _assert_exactly_once_in_order(cluster: DemoCluster, peer: str, ok: list[str]) -> None:
    stream = stream_messages(_db(cluster, "USA"), peer)
    got = received_messages(_db(cluster, peer), "USA")
    assert len(got) == len(set(got)), f"{peer} holds duplicates"
    missing = set(ok) - set(got)
    assert not missing, f"{len(missing)} messages with a 201 never reached {peer}"
    assert got == stream, f"{peer} holds USA's messages in another order than USA's stream"


async def test_receiver_killed_mid_stream_gets_everything_once_in_order(
    demo: DemoCluster,
) -> None:
    demo.nations = ["USA", "JPN"]
    demo.init()
    await _start(demo)
    senders = Senders(demo, "ops.usa-jpn")
    total = 10_000
    sending = asyncio.ensure_future(senders.send(total))
    try:
        await senders.wait_for(2_000)
        demo.kill("JPN")  # kill -9, mid-stream
        killed_at = len(senders.ok)
        await asyncio.sleep(0.5)
        await _start(demo, "JPN")
    finally:
        await sending
    assert len(senders.ok) == total and senders.failed == 0
    assert killed_at < total, "the kill did not happen mid-stream"
    await _drained(demo, ("JPN",))
    _assert_exactly_once_in_order(demo, "JPN", senders.ok)


async def test_sender_killed_after_a_burst_delivers_every_durable_message(
    demo: DemoCluster,
) -> None:
    demo.init()
    await _start(demo)
    senders = Senders(demo, "ops.usa-jpn-kor")
    kor = demo.procs["KOR"]
    kor.send_signal(signal.SIGSTOP)  # KOR falls behind: a backlog that only USA's disk holds
    try:
        await senders.send(3_000)
        demo.kill("USA")  # kill -9 right after the last 201
        behind = len(received_messages(_db(demo, "KOR"), "USA"))
    finally:
        kor.send_signal(signal.SIGCONT)
    assert behind < len(senders.ok), "KOR had everything before USA died"
    await _start(demo, "USA")
    await _drained(demo, ("JPN", "KOR"))
    for peer in ("JPN", "KOR"):
        _assert_exactly_once_in_order(demo, peer, senders.ok)


async def test_cut_link_delays_then_delivers_the_backlog_in_order(demo: DemoCluster) -> None:
    demo.nations = ["USA", "JPN"]
    demo.init()
    jpn_port = _federation_port(demo, "JPN")
    proxy = TcpProxy(jpn_port)
    await proxy.start()
    try:
        tune_federation(
            demo.dirs["USA"], peers={"JPN": f"127.0.0.1:{proxy.port}"}, backoff_max_s=0.5
        )
        await _start(demo)
        usa = await _login(demo.url("USA"), "usa.ops")
        try:
            await _cut_and_heal(demo, proxy, usa)
        finally:
            await usa.aclose()
    finally:
        await proxy.close()


async def _cut_and_heal(demo: DemoCluster, proxy: TcpProxy, usa: httpx.AsyncClient) -> None:
    async def jpn_link() -> dict[str, Any]:
        rows = (await usa.get("/api/v1/peers")).json()
        row: dict[str, Any] = next(p for p in rows if p["nation"] == "JPN")
        return row

    senders = Senders(demo, "ops.usa-jpn")
    await senders.send(200)
    await _drained(demo, ("JPN",))
    assert proxy.accepted >= 1  # the link really runs through the proxy
    proxy.cut()
    await senders.send(500)  # sent (and durable at USA) while the link is down
    await asyncio.sleep(1.0)  # USA keeps trying; every attempt is turned away
    during = await jpn_link()
    assert not during["connected"] and during["backlog"] > 0, during
    assert during["last_error"]
    arrived = received_messages(_db(demo, "JPN"), "USA")
    assert len(arrived) < len(senders.ok)
    proxy.heal()
    await _drained(demo, ("JPN",), timeout_s=20)
    after = await jpn_link()
    assert after["connected"] and after["backlog"] == 0 and after["acked_seq"] == after["last_seq"]
    assert after["last_error"] is None, after  # delivering again: the outage's error is cleared
    _assert_exactly_once_in_order(demo, "JPN", senders.ok)


async def test_a_flash_overtakes_the_backlog_of_an_outage(demo: DemoCluster) -> None:
    """The urgent lane: after an outage, USA's FLASH reaches JPN before the ROUTINE backlog
    queued before it; everything still arrives exactly once, and the ROUTINE messages in USA's
    order."""
    demo.nations = ["USA", "JPN"]
    demo.init()
    proxy = TcpProxy(_federation_port(demo, "JPN"))
    await proxy.start()
    try:
        # Small batches, so that the backlog takes many round trips to flow.
        tune_federation(
            demo.dirs["USA"],
            peers={"JPN": f"127.0.0.1:{proxy.port}"},
            backoff_max_s=0.5,
            batch_max=50,
        )
        await _start(demo)
        usa = await _login(demo.url("USA"), "usa.ops")
        try:
            senders = Senders(demo, "ops.usa-jpn")
            await senders.send(20)
            await _drained(demo, ("JPN",))
            proxy.cut()
            await senders.send(1_500)  # the backlog, durable at USA, the link down
            resp = await usa.post(
                "/api/v1/channels/ops.usa-jpn/messages",
                json={"precedence": "flash", "body": "missile launch detected"},
            )
            assert resp.status_code == 201, resp.text
            flash = str(resp.json()["id"])
            proxy.heal()
            await _drained(demo, ("JPN",), timeout_s=40)
            peers = {p["nation"]: p for p in (await usa.get("/api/v1/peers")).json()}
            assert peers["JPN"]["sent_ahead"] >= 1, peers["JPN"]
        finally:
            await usa.aclose()
    finally:
        await proxy.close()
    stream = stream_messages(_db(demo, "USA"), "JPN")
    got = received_messages(_db(demo, "JPN"), "USA")
    assert stream[-1] == flash  # queued behind the whole backlog at USA
    assert len(got) == len(set(got)) == len(stream), "JPN holds duplicates or misses messages"
    # The link's first frame after the outage carries the FLASH: JPN stored it right after the
    # 20 messages it held before the outage, ahead of the whole backlog.
    assert got.index(flash) == 20, got.index(flash)
    assert [m for m in got if m != flash] == stream[:-1], "the ROUTINE order changed"
    rows = db_rows(_db(demo, "JPN"), "SELECT COUNT(*) FROM peer_ahead")
    assert rows == [(0,)], "an item applied ahead was never matched by its in-order copy"


async def test_the_acknowledgment_of_a_flash_overtakes_the_backlog_back(
    demo: DemoCluster,
) -> None:
    """Both directions cut. JPN gets USA's FLASH first when USA's link heals, and acknowledges
    it while its own link to USA is still down behind 1,000 ROUTINE messages of JPN's. When
    that link heals, USA stores JPN's acknowledgment before JPN's backlog."""
    demo.nations = ["USA", "JPN"]
    demo.init()
    to_jpn = TcpProxy(_federation_port(demo, "JPN"))
    to_usa = TcpProxy(_federation_port(demo, "USA"))
    for proxy in (to_jpn, to_usa):
        await proxy.start()
    try:
        tune_federation(
            demo.dirs["USA"], peers={"JPN": f"127.0.0.1:{to_jpn.port}"}, backoff_max_s=0.5
        )
        tune_federation(
            demo.dirs["JPN"],
            peers={"USA": f"127.0.0.1:{to_usa.port}"},
            backoff_max_s=0.5,
            batch_max=50,
        )
        await _start(demo)
        usa = await _login(demo.url("USA"), "usa.ops")
        jpn = await _login(demo.url("JPN"), "jpn.ops")
        try:
            await _drained(demo, ("JPN",))
            to_jpn.cut()
            to_usa.cut()
            jpn_senders = Senders(demo, "ops.usa-jpn", nation="JPN")
            await jpn_senders.send(1_000)  # JPN's backlog to USA
            resp = await usa.post(
                "/api/v1/channels/ops.usa-jpn/messages",
                json={"precedence": "flash", "body": "missile launch detected"},
            )
            assert resp.status_code == 201, resp.text
            flash = str(resp.json()["id"])
            to_jpn.heal()  # USA -> JPN only

            async def arrived() -> bool:
                return (await jpn.get(f"/api/v1/messages/{flash}")).status_code == 200

            await eventually(arrived, timeout_s=20, what="the FLASH reaching JPN")
            ack = await jpn.post(f"/api/v1/messages/{flash}/ack")
            assert ack.status_code == 200, ack.text
            to_usa.heal()

            async def drained() -> bool:
                detail = (await usa.get(f"/api/v1/messages/{flash}")).json()
                done = len(received_messages(_db(demo, "USA"), "JPN")) == len(jpn_senders.ok)
                return detail["receipts"]["JPN"]["acked_at"] is not None and done

            await eventually(drained, timeout_s=40, what="JPN's stream to USA drained")
        finally:
            await usa.aclose()
            await jpn.aclose()
    finally:
        for proxy in (to_jpn, to_usa):
            await proxy.close()
    rows = db_rows(
        _db(demo, "USA"),
        "SELECT seq, type FROM events WHERE origin = 'JPN' AND type IN "
        "('message_sent', 'message_acknowledged') ORDER BY seq",
    )
    kinds = [kind for _, kind in rows]
    # USA stored the acknowledgment before JPN's backlog, which was queued before it.
    assert kinds.index("message_acknowledged") == 0, kinds[:5]
    assert kinds.count("message_sent") == 1_000


def _federation_port(cluster: DemoCluster, nation: str) -> int:
    from hotline.settings import load_settings

    return load_settings(cluster.dirs[nation], {}).federation.port
