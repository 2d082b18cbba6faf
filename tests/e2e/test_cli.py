"""The ``hotline`` console script end to end: real subprocesses against real node processes
(``DemoCluster``), JSON output, one-line failures, and the demo's own smoke test."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hotline.demo import DemoCluster
from tests.support import free_base_port

TRI = "ops.usa-jpn-kor"


def _hotline() -> list[str]:
    here = Path(sys.executable).parent
    found = shutil.which("hotline", path=str(here)) or shutil.which("hotline")
    return [found] if found else [sys.executable, "-m", "hotline"]


HOTLINE = _hotline()
#: No ambient password or node settings leak into the commands under test.
ENV = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}


def run(*args: str, timeout_s: float = 60.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*HOTLINE, *args], capture_output=True, text=True, timeout=timeout_s, env=ENV, check=False
    )


def poll(check: Callable[[], bool], what: str, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not hold within {timeout_s}s")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoCluster]:
    cluster = DemoCluster(base_port=free_base_port(), root=tmp_path_factory.mktemp("cli-demo"))
    try:
        cluster.init()
        cluster.start_all()
        cluster.wait_ready()
        yield cluster
    finally:
        cluster.cleanup()


@contextlib.contextmanager
def login(url: str, handle: str) -> Iterator[httpx.Client]:
    """A plain HTTP client of ``url`` logged in as ``handle`` (demo password), closed after."""
    with httpx.Client(base_url=url, timeout=10) as client:
        resp = client.post("/api/v1/login", json={"handle": handle, "password": handle})
        assert resp.status_code == 200, resp.text
        client.headers["authorization"] = f"Bearer {resp.json()['token']}"
        yield client


def send_json(demo: DemoCluster, *extra: str, text: str = "Launch detected") -> dict[str, Any]:
    out = run(
        "send",
        "--node",
        demo.url("USA"),
        "--as",
        "usa.ops",
        "--channel",
        TRI,
        *extra,
        "--json",
        text,
    )
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
    lines = out.stdout.splitlines()
    assert len(lines) == 1, out.stdout
    msg: dict[str, Any] = json.loads(lines[0])
    return msg


# ---- help ---------------------------------------------------------------------------------


def test_help() -> None:
    out = run("--help")
    assert out.returncode == 0, out.stderr
    for command in ("send", "watch", "ack", "node", "demo"):
        assert command in out.stdout
    out = run("demo", "--help")
    assert out.returncode == 0, out.stderr
    assert "--base-port" in out.stdout and "--smoke" in out.stdout


# ---- send, ack, watch ---------------------------------------------------------------------


def test_send_json_prints_the_message(demo: DemoCluster) -> None:
    msg = send_json(
        demo, "--precedence", "flash", "--classification", "secret", "--rel-to", "USA,JPN"
    )
    assert msg["id"].startswith("usa-")
    assert (msg["channel"], msg["sender"], msg["nation"]) == (TRI, "usa.ops", "USA")
    assert (msg["precedence"], msg["classification"]) == ("flash", "secret")
    assert msg["rel_to"] == ["USA", "JPN"]
    assert msg["marking"] == "SECRET//REL TO USA, JPN"
    assert msg["body"] == "Launch detected"
    # it is really stored: the node returns it
    with login(demo.url("USA"), "usa.ops.2") as usa:
        resp = usa.get(f"/api/v1/messages/{msg['id']}")
        assert resp.status_code == 200 and resp.json()["body"] == "Launch detected"


def test_send_human_output_is_one_line(demo: DemoCluster) -> None:
    out = run(
        "send", "--node", demo.url("USA"), "--as", "usa.ops", "--channel", TRI, "routine note"
    )
    assert out.returncode == 0, out.stderr
    [line] = out.stdout.splitlines()
    assert "ROUTINE" in line and TRI in line and line.startswith("usa-")


def test_ack_json(demo: DemoCluster) -> None:
    msg = send_json(demo, "--precedence", "immediate")
    with login(demo.url("JPN"), "jpn.ops.3") as jpn:
        poll(
            lambda: jpn.get(f"/api/v1/messages/{msg['id']}").status_code == 200,
            "the message at JPN's node",
        )
    out = run("ack", "--node", demo.url("JPN"), "--as", "jpn.ops", "--json", msg["id"])
    assert out.returncode == 0, out.stderr
    [line] = out.stdout.splitlines()
    detail = json.loads(line)
    assert detail["id"] == msg["id"]
    assert detail["receipts"]["JPN"]["acked_by"] == "jpn.ops"
    assert detail["escalation"]["JPN"]["state"] == "acknowledged"
    assert detail["receipts"]["KOR"]["acked_at"] is None
    again = run("ack", "--node", demo.url("JPN"), "--as", "jpn.ops.2", msg["id"])
    assert again.returncode == 1
    [err] = again.stderr.splitlines()
    assert err.startswith("hotline: already_acknowledged")


def test_watch_json_shows_a_message_sent_after_it_started(demo: DemoCluster) -> None:
    watcher = subprocess.Popen(
        [
            *HOTLINE,
            "watch",
            "--node",
            demo.url("KOR"),
            "--as",
            "kor.ops.3",
            "--json",
            "--count",
            "4",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    sent: set[str] = set()
    try:
        with login(demo.url("JPN"), "jpn.ops") as jpn:
            # the watcher prints nothing until an event arrives: send until it has seen four
            deadline = time.monotonic() + 30
            while watcher.poll() is None:
                assert time.monotonic() < deadline, "watch printed no events within 30s"
                resp = jpn.post(
                    "/api/v1/channels/ops.jpn-kor/messages",
                    json={"precedence": "flash", "body": f"watch probe {len(sent)}"},
                )
                assert resp.status_code == 201, resp.text
                sent.add(resp.json()["id"])
                with contextlib.suppress(subprocess.TimeoutExpired):
                    watcher.wait(timeout=0.5)
        stdout, stderr = watcher.communicate(timeout=10)
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.communicate()
    assert watcher.returncode == 0, stderr
    lines = stdout.splitlines()
    assert len(lines) == 4, stdout
    events = [json.loads(line) for line in lines]
    # Every event is about a probe: its message, or a receipt of it (a receipt of a probe sent
    # just before the watcher subscribed may come first: receipts follow within 20 ms).
    for event in events:
        assert event["type"] in ("message", "receipt"), event
        assert (event.get("id") or event.get("message_id")) in sent
    messages = [e for e in events if e["type"] == "message"]
    assert messages, stdout
    first = messages[0]
    assert (first["channel"], first["sender"], first["precedence"]) == (
        "ops.jpn-kor",
        "jpn.ops",
        "flash",
    )
    assert first["body"].startswith("watch probe ")


# ---- failures: one line on stderr, exit 1 -------------------------------------------------


def _one_line_failure(out: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert out.returncode == 1, (out.stdout, out.stderr)
    assert out.stdout == ""
    lines = out.stderr.splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("hotline: "), lines[0]
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def test_unknown_channel_fails_in_one_line(demo: DemoCluster) -> None:
    out = run("send", "--node", demo.url("USA"), "--as", "usa.ops", "--channel", "ops.usa-fra", "x")
    _one_line_failure(out, "unknown_channel", "ops.usa-fra")


def test_bad_precedence_fails_in_one_line(demo: DemoCluster) -> None:
    out = run(
        "send",
        "--node",
        demo.url("USA"),
        "--as",
        "usa.ops",
        "--channel",
        TRI,
        "--precedence",
        "urgent",
        "x",
    )
    _one_line_failure(out, "bad_precedence", "urgent")


def test_wrong_password_fails_in_one_line(demo: DemoCluster) -> None:
    for args in (
        ("send", "--node", demo.url("USA"), "--as", "usa.ops", "--password", "nope12345678"),
        ("send", "--node", demo.url("USA"), "--as", "jpn.ops"),  # another nation's node
    ):
        out = run(*args, "--channel", TRI, "x")
        line = _one_line_failure(out)
        assert "bad_credentials" in line or "wrong_node" in line
    out = run("watch", "--node", demo.url("KOR"), "--as", "kor.ops", "--password", "wrongwrong")
    _one_line_failure(out, "bad_credentials")


def test_unreachable_node_fails_in_one_line(tmp_path: Path) -> None:
    free = free_base_port() + 1  # nothing listens there
    url = f"http://127.0.0.1:{free}"
    out = run("send", "--node", url, "--as", "usa.ops", "--channel", TRI, "x")
    _one_line_failure(out, "unreachable", url)
    out = run("watch", "--node", url, "--as", "usa.ops", "--count", "1")
    _one_line_failure(out, "unreachable")


def test_json_failure_is_one_json_line(demo: DemoCluster) -> None:
    out = run("ack", "--node", demo.url("JPN"), "--as", "jpn.ops", "--json", "usa-0-nope")
    assert out.returncode == 1
    assert out.stdout == ""
    [line] = out.stderr.splitlines()
    assert "unknown_message" in json.loads(line)["error"]


def test_ports_that_leave_the_range_and_unknown_compacts_fail_in_one_line(
    tmp_path: Path,
) -> None:
    """Nothing is made: no node folder, no demo folder."""
    usa = str(tmp_path / "usa")
    out = run("node", "init", "--nation", "USA", "--dir", usa, "--base-port", "-5")
    _one_line_failure(out, "base port -5", "ports run from 1 to 65535")
    demo_dir = tmp_path / "nato"
    args = ("demo", "--compact", "nato-32", "--base-port", "65400", "--dir", str(demo_dir))
    _one_line_failure(run(*args), "32 parties of nato-32", "65401 to 65632", "0 to 65303 fits")
    out = run("demo", "--compact", "warsaw-pact", "--json")
    assert out.returncode == 1 and out.stdout == ""
    [line] = out.stderr.splitlines()
    assert "no bundled compact 'warsaw-pact'" in json.loads(line)["error"]
    assert list(tmp_path.iterdir()) == []


# ---- the demo's smoke test ----------------------------------------------------------------


def test_demo_smoke(tmp_path: Path) -> None:
    out = subprocess.run(
        [*HOTLINE, "demo", "--smoke", "--base-port", str(free_base_port()), "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        env=ENV,
        check=False,
    )
    assert out.returncode == 0, (out.stdout, out.stderr)
    assert "smoke test passed" in out.stdout
