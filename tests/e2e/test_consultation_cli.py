"""``hotline consult ...`` and ``hotline cadence`` as real processes against three live nodes."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

import pytest

from tests.e2e.consultation_support import wait_for
from tests.support import Cluster

pytestmark = pytest.mark.anyio


async def hotline(*args: str) -> tuple[int, str, str]:
    """Run ``hotline ARGS`` without blocking the nodes that run in this event loop."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hotline",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1"},
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def ok_json(*args: str) -> Any:
    code, out, err = await hotline(*args, "--json")
    assert code == 0, err
    return json.loads(out)


def who(cluster: Cluster, nation: str, layer: str = "nsa") -> tuple[str, ...]:
    return ("--node", cluster[nation].url, "--as", f"{nation.lower()}.{layer}")


async def test_consult_from_the_command_line(cluster: Cluster) -> None:
    invoked = await ok_json(
        "consult", "invoke", *who(cluster, "USA"),
        "--subject", "Launch toward Japan", "--layer", "nsa", "--severity", "critical",
        "--threatened", "JPN",
    )  # fmt: skip
    cid = invoked["id"]
    assert invoked["obligations"]["USA"]["kind"] == "defend"
    channel = invoked["channel"]
    assert channel == f"nsa.usa-jpn-kor.{cid}"  # the consultation's own channel
    clients = {n: await cluster[n].login(f"{n.lower()}.nsa") for n in ("USA", "JPN", "KOR")}
    await wait_for(clients, cid, "the invocation", lambda v: True)
    code, out, err = await hotline(
        "send", *who(cluster, "JPN"), "--channel", channel, "--precedence", "immediate",
        "JPN joins the call.",
    )  # fmt: skip
    assert code == 0, err
    assert channel in out

    code, out, err = await hotline("consult", "ack", *who(cluster, "JPN", "ops"), cid)
    assert code == 0, err
    assert cid in out and "JPN acknowledged" in out
    code, out, err = await hotline("consult", "ack", *who(cluster, "JPN"), cid)
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith("hotline: illegal_transition: ")
    assert "JPN already acknowledged" in err
    code, out, err = await hotline("consult", "convene", *who(cluster, "KOR"), cid)
    assert code == 0, err
    code, out, err = await hotline(
        "consult", "position", *who(cluster, "KOR"), cid, "We share the assessment."
    )
    assert code == 0, err

    drafted = await ok_json("consult", "draft", *who(cluster, "USA"), cid, "We condemn it.")
    sid = drafted["statement"]["id"]
    await wait_for(
        clients, cid, "the draft", lambda v: any(s["id"] == sid for s in v["statements"])
    )
    for nation in ("USA", "JPN", "KOR"):
        code, out, err = await hotline("consult", "approve", *who(cluster, nation), cid, sid)
        assert code == 0, err
        assert f"statement {sid} version 1" in out
    await wait_for(clients, cid, "adoption", lambda v: all(s["adopted"] for s in v["statements"]))
    code, out, err = await hotline("consult", "phase", *who(cluster, "JPN"), cid, "closed")
    assert code == 0 and " closed " in out, err

    code, out, err = await hotline("consult", "show", *who(cluster, "KOR"), cid)
    assert code == 0, err
    for text in ("Launch toward Japan", "ADOPTED", "timeline", "response times", "defend"):
        assert text in out, (text, out)
    assert f"channel {channel};" in out
    rows = await ok_json("consult", "list", *who(cluster, "JPN"))
    assert [r["id"] for r in rows] == [cid]
    assert rows[0]["adopted"] == 1

    code, out, err = await hotline(
        "consult", "invoke", *who(cluster, "USA"),
        "--subject", "x", "--layer", "nsa", "--severity", "dire", "--threatened", "JPN",
    )  # fmt: skip
    assert code == 1 and err.startswith("hotline: invalid: severity: 'dire'"), err
    code, out, err = await hotline("consult", "show", *who(cluster, "KOR"), "c-nope", "--json")
    assert code == 1 and json.loads(err)["error"].startswith("unknown_consultation:")


async def test_cadence_from_the_command_line(cluster: Cluster) -> None:
    code, out, err = await hotline("cadence", *who(cluster, "KOR", "defense"))
    assert code == 0, err
    assert "Freedom Edge" in out and "OVERDUE" in out and "warning:" in out
    held = await ok_json(
        "cadence", "held", *who(cluster, "KOR", "defense"), "--at", "2026-07-01T00:00:00Z",
        "freedom-edge",
    )  # fmt: skip
    assert held["last_held"] == "2026-07-01T00:00:00.000Z"
    status = await ok_json("cadence", *who(cluster, "KOR", "defense"))
    assert "freedom-edge" not in status["overdue"]
    code, out, err = await hotline("cadence", "held", *who(cluster, "KOR", "ops"), "freedom-edge")
    assert code == 1 and err.startswith("hotline: forbidden: ") and err.count("\n") == 1
    code, out, err = await hotline("cadence")
    assert code == 1 and "--node and --as are required" in err
