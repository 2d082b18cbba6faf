"""``hotline pki init|show|trust`` and ``hotline peers``: two nations federated from the CLI.

The worked example of ``docs/federation.md``: USA and JPN each initialise a node, show what the
other must pin, pin each other, start, and ``hotline peers`` (a real process) shows the link.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from hotline.cli import main
from tests.integration.federation_support import start_node, stop_node, tune_federation
from tests.support import LiveNode, eventually, free_base_port


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def ok_json(*args: str) -> Any:
    result = cli(*args, "--json")
    assert result.exit_code == 0, result.output + result.stderr
    return json.loads(result.stdout)


def refused(*args: str, says: str) -> None:
    """The command fails with exit status 1 and one line ``hotline: ...`` naming the problem."""
    result = cli(*args)
    assert result.exit_code == 1, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hotline: "), result.stderr
    assert says in lines[0], lines[0]


async def hotline(*args: str) -> tuple[int, str, str]:
    """``hotline ARGS`` as a real process, without blocking the nodes in this event loop."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hotline",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "COLUMNS": "120", "NO_COLOR": "1"},
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def _two_nodes(tmp_path: Path) -> tuple[Path, Path, int]:
    base = free_base_port()
    dirs = []
    for nation in ("USA", "JPN"):
        d = tmp_path / nation.lower()
        made = ok_json(
            "node", "init", "--nation", nation, "--dir", str(d), "--demo",
            "--base-port", str(base),
        )  # fmt: skip
        assert made["nation"] == nation
        dirs.append(d)
    return dirs[0], dirs[1], base


def _exchange(usa: Path, jpn: Path, tmp_path: Path, base: int) -> None:
    """Each side shows its pins, sends its CA file; the other checks and pins it."""
    for me, peer, port in ((usa, jpn, base + 21), (jpn, usa, base + 22)):
        shown = ok_json("pki", "show", "--dir", str(me))
        nation = shown["nation"]
        assert shown["address"] == f"127.0.0.1:{port}"
        sent = tmp_path / f"{nation.lower()}-ca.crt"  # "sent" to the other machine
        shutil.copyfile(shown["ca_cert"], sent)
        pinned = ok_json(
            "pki", "trust", "--dir", str(peer), "--nation", nation, "--ca", str(sent),
            "--signing-key", shown["signing_key"], "--fingerprint", shown["ca_fingerprint"],
            "--address", shown["address"],
        )  # fmt: skip
        assert pinned == {
            "nation": nation,
            "ca_fingerprint": shown["ca_fingerprint"],
            "signing_key": shown["signing_key"],
            "address": shown["address"],
        }


def test_pki_init_is_idempotent_and_show_matches_it(tmp_path: Path) -> None:
    d = tmp_path / "usa"
    made = ok_json("pki", "init", "--dir", str(d), "--nation", "usa", "--host", "10.1.2.3")
    assert made["nation"] == "USA" and made["node_cert_issued"] is True
    again = ok_json("pki", "init", "--dir", str(d), "--nation", "USA")
    assert again["node_cert_issued"] is False
    assert (again["ca_fingerprint"], again["signing_key"]) == (
        made["ca_fingerprint"],
        made["signing_key"],
    )
    renewed = ok_json("pki", "init", "--dir", str(d), "--nation", "USA", "--renew-node")
    assert renewed["node_cert_issued"] is True
    assert renewed["ca_fingerprint"] == made["ca_fingerprint"]  # the pin peers hold survives
    shown = ok_json("pki", "show", "--dir", str(d))
    assert shown["nation"] == "USA" and shown["address"] is None  # no node.toml yet
    assert shown["ca_fingerprint"] == made["ca_fingerprint"]
    assert shown["signing_key"] == made["signing_key"]
    human = cli("pki", "show", "--dir", str(d))
    assert human.exit_code == 0
    assert made["ca_fingerprint"] in human.stdout and "hotline pki trust" in human.stdout
    refused("pki", "init", "--dir", str(d), "--nation", "JPN", says="already holds USA's CA")
    refused("pki", "init", "--dir", str(d), "--nation", "U5A", says="not an ISO 3166")
    refused("pki", "show", "--dir", str(tmp_path / "nothing"), says="does not exist")


def test_pki_trust_refuses_what_it_should_not_pin(tmp_path: Path) -> None:
    usa, jpn, _ = _two_nodes(tmp_path)
    jpn_pins = ok_json("pki", "show", "--dir", str(jpn))
    usa_pins = ok_json("pki", "show", "--dir", str(usa))
    ca, key, fp = jpn_pins["ca_cert"], jpn_pins["signing_key"], jpn_pins["ca_fingerprint"]
    trust = ("pki", "trust", "--dir", str(usa))
    refused(
        *trust, "--nation", "JPN", "--ca", ca, "--signing-key", key,
        "--fingerprint", usa_pins["ca_fingerprint"], says="do not trust it",
    )  # fmt: skip
    refused(
        *trust, "--nation", "JPN", "--ca", usa_pins["ca_cert"], "--signing-key", key,
        says="is USA's CA certificate, not JPN's",
    )  # fmt: skip
    refused(*trust, "--nation", "USA", "--ca", ca, "--signing-key", key, says="own nation")
    refused(*trust, "--nation", "FRA", "--ca", ca, "--signing-key", key, says="not a party")
    refused(*trust, "--nation", "JPN", "--ca", ca, "--signing-key", "garbage", says="signing key")
    bad = tmp_path / "bad.crt"
    bad.write_text("not a certificate")
    refused(*trust, "--nation", "JPN", "--ca", str(bad), "--signing-key", key, says="bad.crt")
    refused(
        *trust, "--nation", "JPN", "--ca", ca, "--signing-key", key, "--address", "nowhere",
        says="not host:port",
    )  # fmt: skip
    # Nothing was written by any refused attempt.
    assert not (usa / "peers" / "JPN-ca.crt").exists()
    peers_toml = usa / "peers.toml"
    assert not peers_toml.exists() or "JPN" not in peers_toml.read_text()
    ok = cli(*trust, "--nation", "jpn", "--ca", ca, "--signing-key", key, "--fingerprint", fp)
    assert ok.exit_code == 0, ok.stderr
    assert "JPN pinned" in ok.stdout and "Restart the node" in ok.stdout


@pytest.mark.anyio
async def test_two_nations_federate_from_the_command_line(tmp_path: Path) -> None:
    usa, jpn, base = _two_nodes(tmp_path)
    # USA's settings name a wrong address for JPN: the address pinned with JPN must win.
    tune_federation(usa, peers={"JPN": "127.0.0.1:1"})
    _exchange(usa, jpn, tmp_path, base)
    nodes = [
        LiveNode("USA", f"http://127.0.0.1:{base + 1}", usa),
        LiveNode("JPN", f"http://127.0.0.1:{base + 2}", jpn),
    ]
    try:
        for live in nodes:
            await start_node(live)
        peers = ("peers", "--node", nodes[0].url, "--as", "usa.ops")

        async def linked() -> bool:
            code, out, err = await hotline(*peers, "--json")
            assert code == 0, err
            rows = {r["nation"]: r for r in json.loads(out)}
            jpn_row = rows["JPN"]
            return bool(jpn_row["connected"] and jpn_row["inbound_connected"])

        await eventually(linked, timeout_s=20, what="USA and JPN linked")
        code, out, err = await hotline(*peers)
        assert code == 0, err
        lines = out.splitlines()
        jpn_line = next(line for line in lines if line.lstrip().startswith("JPN"))
        assert "up/up" in jpn_line
        kor_line = next(line for line in lines if line.lstrip().startswith("KOR"))
        assert "unpinned" in kor_line
        assert any(line.startswith("KOR: not pinned yet") for line in lines)

        code, out, err = await hotline(*peers, "--password", "wrong")
        assert (code, out) == (1, "")
        assert err.startswith("hotline: ") and len(err.strip().splitlines()) == 1
    finally:
        for live in nodes:
            await stop_node(live)
