"""``hotline tracks replay`` and ``hotline tracks`` end to end: the shipped recording replayed by
each nation's sensors to its own node (real CLI processes), then the tracks listed."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support import Cluster, eventually

pytestmark = pytest.mark.anyio

RECORDING = Path(__file__).resolve().parents[2] / "examples" / "replay-mrbm.jsonl"


async def hotline(*args: str) -> tuple[int, str, str]:
    env = dict(os.environ, COLUMNS="220")
    env.pop("HOTLINE_PASSWORD", None)
    pipe = asyncio.subprocess.PIPE
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hotline", *args, stdout=pipe, stderr=pipe, env=env
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    return int(proc.returncode or 0), out.decode(), err.decode()


async def test_replay_then_list_tracks(cluster: Cluster) -> None:
    start = f"{time.time() + 3.0:.3f}"  # one scenario clock for the three nations' replays

    def replay(n: str) -> Any:
        return hotline(
            *("tracks", "replay", str(RECORDING), "--node", cluster[n].url),
            *("--as", f"{n.lower()}.sensors", "--speed", "60", "--start-at", start, "--json"),
        )

    replays = [replay(n) for n in ("USA", "JPN", "KOR")]
    results = await asyncio.gather(*replays)
    sent = {}
    for rc, out, err in results:
        assert rc == 0, err
        summary = json.loads(out)
        sent[summary["nation"]] = summary["sent"]
        assert summary["skipped"] + summary["sent"] == 1136
    assert sent == {"USA": 449, "JPN": 218, "KOR": 469}

    async def one_track() -> bool:
        rc, out, _ = await hotline(
            "tracks", "--node", cluster["KOR"].url, "--as", "kor.ops", "--json"
        )
        return rc == 0 and len(json.loads(out)) == 1

    await eventually(one_track, timeout_s=30, what="KOR lists the coalition track")
    rc, out, _ = await hotline("tracks", "--node", cluster["JPN"].url, "--as", "jpn.ops", "--json")
    (track,) = json.loads(out)
    assert set(track["sources"]) == {
        "USA/tpy2-kyogamisaki",
        "JPN/fps5-sado",
        "KOR/greenpine-central",
    }
    assert track["impact"] is not None and track["origin"] == "USA"
    rc, table, _ = await hotline("tracks", "--node", cluster["JPN"].url, "--as", "jpn.sensors")
    assert rc == 0 and "1 track(s)" in table and track["id"] in table
    rc, out, _ = await hotline(
        "tracks", "--node", cluster["JPN"].url, "--as", "jpn.ops", "--picture", "local", "--json"
    )
    assert rc == 0 and [t["sources"] for t in json.loads(out)] == [["JPN/fps5-sado"]]


async def test_cli_failures_are_one_line(cluster: Cluster, tmp_path: Path) -> None:
    rc, _, err = await hotline(
        *("tracks", "replay", str(RECORDING), "--node", cluster["JPN"].url),
        *("--as", "jpn.sensors", "--password", "wrong-password"),
    )
    assert rc == 1 and err.startswith("hotline: ") and "bad_credentials" in err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"uid": "x"}\n')
    rc, _, err = await hotline(
        "tracks", "replay", str(bad), "--node", cluster["JPN"].url, "--as", "jpn.sensors"
    )
    assert rc == 1 and "bad.jsonl:1: missing field 'sensor'" in err
    rc, _, err = await hotline("tracks", "--node", cluster["JPN"].url)
    assert rc == 2 and "--node and --as are required" in err
