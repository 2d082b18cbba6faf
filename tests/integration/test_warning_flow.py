"""Missile-warning data sharing across three federated nodes, through the public API:
reports at each nation's node, one fused track on every node's picture, one automatic alert
(FLASH on the trilateral ops channel, then updates), and raw reports only where the compact
releases them (read back from the nodes' SQLite files)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.integration.warning_support import (
    NATIONS,
    OBJECT,
    db_bytes,
    post_in_time_order,
    rows,
    scenario,
    sensors_of,
)
from tests.support import Cluster, eventually, recv_until

pytestmark = pytest.mark.anyio


def japan_east_of_137(lat: float, lon: float) -> tuple[Any, str | None]:
    """A stand-in territory look-up: the sea east of 137°E is Japan's territorial sea (the
    simulated MRBM falls about 100 km off Sado, in Japan's EEZ, not its territory)."""
    return ("JPN", "territorial_sea") if lon > 137.0 else (None, None)


async def test_one_missile_one_track_one_alert_on_every_node(cluster: Cluster) -> None:
    usa_node = cluster["USA"].node
    assert usa_node is not None
    usa_node.warning.territory = japan_east_of_137
    sensors = await sensors_of(cluster)
    ops = {n: await cluster[n].login(f"{n.lower()}.ops") for n in NATIONS}
    reports = scenario(time.time())
    async with cluster["JPN"].stream(ops["JPN"]) as jws, cluster["KOR"].stream(ops["KOR"]) as kws:
        assert await post_in_time_order(sensors, reports) == len(reports)

        async def one_track_everywhere() -> bool:
            ids = set()
            for n in NATIONS:
                tracks = (await ops[n].get("/api/v1/tracks")).json()
                if len(tracks) != 1 or tracks[0]["impact"] is None:
                    return False
                ids.add(tracks[0]["id"])
            return len(ids) == 1

        await eventually(one_track_everywhere, timeout_s=20, what="one track on all three nodes")
        for ws in (jws, kws):
            # FLASH alerts overtake routine track events on a stream: collect, then check.
            seen: dict[str, dict[str, Any]] = {}

            def collect(e: dict[str, Any], seen: dict[str, dict[str, Any]] = seen) -> bool:
                if e["type"] in ("track", "alert"):
                    seen.setdefault(e["type"] if e["type"] == "track" else e["kind"], e)
                return {"track", "raised", "threat"} <= seen.keys()

            await recv_until(ws, collect)
            assert seen["track"]["picture"] == "coalition" and seen["track"]["origin"] == "USA"
            raised, threat = seen["raised"], seen["threat"]
            assert raised["origin"] == "USA" and raised["channel"] == "ops.usa-jpn-kor"
            assert threat["threatened"] == ["JPN"] and threat["alert_id"] == raised["alert_id"]

    # The picture: the same track, fused from every nation's sensors, at every node.
    views = {n: (await ops[n].get("/api/v1/tracks")).json()[0] for n in NATIONS}
    track = views["KOR"]
    assert {v["id"] for v in views.values()} == {track["id"]}
    assert set(track["sources"]) == {
        "USA/tpy2-kyogamisaki",
        "JPN/fps5-sado",
        "KOR/greenpine-central",
    }
    for key in ("id", "phase", "lat", "lon", "hae", "velocity", "sources", "impact"):
        assert key in track
    impact = track["impact"]
    for key in ("lat", "lon", "time", "semi_major_m", "semi_minor_m", "orientation_deg"):
        assert key in impact
    assert impact["territory"] == "JPN" and 137.0 < impact["lon"] < 138.0

    # One alert, raised once by the authority; its FLASH messages are not repeated: one for the
    # launch, one for the newly threatened party, then only alert revisions.
    for n in NATIONS:
        msgs = (await ops[n].get("/api/v1/channels/ops.usa-jpn-kor/messages")).json()
        warnings = [m for m in msgs if m["template"] == "missile-warning"]
        assert [m["precedence"] for m in warnings] == ["flash", "flash"], n
        assert all(m["sender"] == "usa.ops" and m["nation"] == "USA" for m in warnings)
        assert "launch detected" in warnings[0]["body"]
        assert "IMPACT PREDICTED IN JAPAN (JPN)" in warnings[1]["body"]
        alerts = (await ops[n].get("/api/v1/alerts")).json()
        assert len(alerts) == 1 and alerts[0]["origin"] == "USA"
        assert alerts[0]["message_id"] == warnings[0]["id"]
        assert alerts[0]["revision"] >= 2  # updated, not repeated
    # ...and JPN and KOR acknowledge it like any FLASH.
    wid = warnings[0]["id"]
    assert (await ops["JPN"].post(f"/api/v1/messages/{wid}/ack")).status_code == 200

    # Each non-authority node also fused its own reports, for itself only.
    local = (await ops["JPN"].get("/api/v1/tracks?picture=local")).json()
    assert len(local) == 1 and local[0]["sources"] == ["JPN/fps5-sado"]
    assert local[0]["origin"] == "JPN"


async def test_raw_reports_reach_only_the_nodes_the_compact_names(cluster: Cluster) -> None:
    sensors = await sensors_of(cluster)
    reports = scenario(time.time())
    await post_in_time_order(sensors, reports)
    ops = await cluster["KOR"].login("kor.ops")

    async def kor_has_the_track() -> bool:
        return len((await ops.get("/api/v1/tracks")).json()) == 1

    await eventually(kor_has_the_track, timeout_s=20, what="KOR receives the coalition track")
    jpn_uid = f"fps5-sado.{OBJECT}".encode()
    kor_uid = f"greenpine-central.{OBJECT}".encode()
    usa_uid = f"tpy2-kyogamisaki.{OBJECT}".encode()
    files = {n: db_bytes(cluster[n].node_dir) for n in NATIONS}
    # The US node (raw_reports_to = ["USA"]) holds every nation's raw reports ...
    assert jpn_uid in files["USA"] and kor_uid in files["USA"] and usa_uid in files["USA"]
    # ... JPN and KOR only their own: not one byte of the other's or of the US reports.
    assert jpn_uid in files["JPN"] and kor_uid not in files["JPN"] and usa_uid not in files["JPN"]
    assert kor_uid in files["KOR"] and jpn_uid not in files["KOR"] and usa_uid not in files["KOR"]
    kor = cluster["KOR"].node_dir
    assert rows(kor, "SELECT DISTINCT nation FROM reports") == [("KOR",)]
    assert rows(kor, "SELECT COUNT(*) FROM events WHERE type = 'reports_received' AND origin "
                     "!= 'KOR'") == [(0,)]  # fmt: skip
    assert rows(kor, "SELECT COUNT(*) FROM refused") == [(0,)]  # egress never even sent them
    usa = cluster["USA"].node_dir
    counts = dict(rows(usa, "SELECT nation, COUNT(*) FROM reports GROUP BY nation"))
    assert counts == {n: sum(r["nation"] == n for r in reports) for n in NATIONS}
    # The outboxes agree: JPN's stream to KOR carries no raw report.
    jpn = cluster["JPN"].node_dir
    assert rows(jpn, "SELECT COUNT(*) FROM outbox o JOIN events e ON e.seq = o.event_seq "
                     "WHERE o.peer = 'KOR' AND e.type = 'reports_received'") == [(0,)]  # fmt: skip


async def test_only_sensors_accounts_post_reports_and_bad_reports_change_nothing(
    cluster: Cluster,
) -> None:
    jpn = cluster["JPN"]
    feed = await jpn.login("jpn.sensors")
    ops = await jpn.login("jpn.ops")
    good = {k: v for k, v in scenario(time.time())[0].items() if k != "nation"} | {
        "uid": "fps5-sado.t1",
        "sensor": "fps5-sado",
    }
    # The sensors account is no official: it reads tracks but cannot use the hotline.
    assert (await feed.get("/api/v1/tracks")).status_code == 200
    denied = await feed.post(
        "/api/v1/channels/ops.usa-jpn-kor/messages", json={"precedence": "flash", "body": "x"}
    )
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "service_account"
    assert (await feed.get("/api/v1/channels")).status_code == 403
    # An official cannot post reports.
    resp = await ops.post("/api/v1/reports", json=good)
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "not_a_sensor_feed"
    # A sensors account logs in to its own nation's node only.
    async with httpx.AsyncClient(base_url=cluster["USA"].url) as usa:
        wrong = await usa.post(
            "/api/v1/login", json={"handle": "jpn.sensors", "password": "jpn.sensors"}
        )
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "wrong_node"
    before = rows(jpn.node_dir, "SELECT COUNT(*) FROM events")
    cases = [
        (good | {"lat": 91.0}, 422, "out_of_range", "lat"),
        (good | {"sensor": "greenpine-central"}, 422, "unknown_sensor", "sensor"),
        (good | {"time": time.time() - 3600}, 422, "stale_report", "time"),
        (good | {"time": time.time() + 3600}, 422, "future_report", "time"),
        (good | {"ce": 0}, 422, "out_of_range", "ce"),
        ([good, good | {"hae": -1e6}], 422, "out_of_range", "reports[1].hae"),
        (good | {"lat": "north"}, 400, "invalid_field", "lat"),
        (good | {"extra": 1}, 400, "unknown_field", "extra"),
        ([], 422, "empty", "no reports"),
    ]
    for body, status, code, field in cases:
        resp = await feed.post("/api/v1/reports", json=body)
        assert resp.status_code == status, (body, resp.text)
        err = resp.json()["error"]
        assert err["code"] == code and field in err["message"], err
    assert rows(jpn.node_dir, "SELECT COUNT(*) FROM events") == before  # nothing changed
    ok = await feed.post("/api/v1/reports", json=good)
    assert ok.status_code == 201 and ok.json()["accepted"] == 1
    iso = good | {"uid": "fps5-sado.t2", "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    assert (await feed.post("/api/v1/reports", json=[iso])).status_code == 201
