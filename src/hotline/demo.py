"""``hotline demo``: every party's node of a compact on 127.0.0.1, ready to use.

The n-th party (compact order, from 1) gets API port ``base+n``, CoT port ``base+10+n`` and
federation port ``base+20+n``. Each node is a real ``hotline node start`` process with its own
folder in a temporary directory; SIGINT or SIGTERM stops them all.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import click
import httpx

from hotline.cli_support import handle_errors
from hotline.compacts import load_compact
from hotline.domain.ids import Layer, NationCode
from hotline.domain.service_accounts import service_accounts_of
from hotline.node import init_node, node_ports


@dataclass
class DemoCluster:
    """A set of real node processes on loopback (the demo, the smoke test, benchmarks)."""

    base_port: int = 8800
    compact: str = "camp-david"
    root: Path | None = None
    nations: list[str] = field(default_factory=list)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    dirs: dict[str, Path] = field(default_factory=dict)
    log_dir: Path | None = None
    _own_root: bool = False

    def init(self) -> None:
        c = load_compact(self.compact)
        node_ports(c, c.nations[0], self.base_port)  # the whole block fits, or nothing is made
        if self.root is None:
            self.root = Path(tempfile.mkdtemp(prefix="hotline-demo-"))
            self._own_root = True
        self.nations = list(self.nations or c.nations)
        self.log_dir = self.root / "logs"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for nation in self.nations:
            d = self.root / nation.lower()
            if not (d / "node.toml").exists():
                init_node(d, nation, self.compact, demo=True, base_port=self.base_port)
            self.dirs[nation] = d
        from hotline.federation.trust import pin_peers

        pin_peers(self.dirs)

    def url(self, nation: str) -> str:
        api, _, _ = node_ports(load_compact(self.compact), nation, self.base_port)
        return f"http://127.0.0.1:{api}"

    def cot(self, nation: str) -> str:
        _, cot, _ = node_ports(load_compact(self.compact), nation, self.base_port)
        return f"tcp://127.0.0.1:{cot}"

    def start(self, nation: str) -> None:
        assert self.log_dir is not None
        log = open(self.log_dir / f"{nation.lower()}.log", "ab")  # noqa: SIM115 - owned by proc
        self.procs[nation] = subprocess.Popen(
            [sys.executable, "-m", "hotline", "node", "start", "--dir", str(self.dirs[nation])],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        log.close()

    def start_all(self) -> None:
        for nation in self.nations:
            self.start(nation)

    def wait_ready(self, timeout_s: float = 30.0, nations: list[str] | None = None) -> None:
        deadline = time.monotonic() + timeout_s
        for nation in nations or self.nations:
            while True:
                proc = self.procs.get(nation)
                if proc is not None and proc.poll() is not None:
                    raise click.ClickException(
                        f"{nation} node exited with {proc.returncode}; "
                        f"see {self.log_path(nation)}:\n" + self.log_tail(nation)
                    )
                try:
                    if httpx.get(self.url(nation) + "/healthz", timeout=1.0).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise click.ClickException(f"{nation} node did not answer within {timeout_s}s")
                time.sleep(0.05)

    def log_path(self, nation: str) -> Path:
        assert self.log_dir is not None
        return self.log_dir / f"{nation.lower()}.log"

    def log_tail(self, nation: str, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path(nation).read_text().splitlines()[-lines:])
        except OSError:
            return ""

    def kill(self, nation: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs.pop(nation, None)
        if proc is not None and proc.poll() is None:
            proc.send_signal(sig)
            proc.wait(timeout=15)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()

    def cleanup(self) -> None:
        self.stop()
        if self._own_root and self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)

    def summary(self) -> dict[str, Any]:
        return {
            "nodes": {n: self.url(n) for n in self.nations},
            "cot": {n: self.cot(n) for n in self.nations},
        }


def demo_logins(compact_name: str, nation: str) -> list[str]:
    c = load_compact(compact_name)
    return [o.handle for o in c.officials if o.nation == nation and o.rank == 0]


@click.command()
@click.option("--base-port", type=int, default=8800, show_default=True)
@click.option("--compact", default="camp-david", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON line of node URLs.")
@click.option("--smoke", is_flag=True, help="Run a scripted FLASH round trip, exit 0 or 1.")
@click.option(
    "--dir",
    "root",
    type=click.Path(path_type=Path),
    default=None,
    help="Keep the nodes' folders here (default: a temporary folder).",
)
@handle_errors
def demo(base_port: int, compact: str, as_json: bool, smoke: bool, root: Path | None) -> None:
    """Start every party's node on 127.0.0.1 and print URLs and demo logins."""
    cluster = DemoCluster(base_port=base_port, compact=compact, root=root)
    stopping = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        cluster.init()
        cluster.start_all()
        cluster.wait_ready()
        if smoke:
            from hotline.smoke import run_smoke

            ok = run_smoke(cluster, as_json=as_json)
            sys.exit(0 if ok else 1)
        _announce(cluster, compact, as_json)
        while True:
            for nation, proc in cluster.procs.items():
                if proc.poll() is not None:
                    raise click.ClickException(
                        f"{nation} node stopped ({proc.returncode}): {cluster.log_path(nation)}"
                    )
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        cluster.cleanup()
        if cluster.procs and not as_json and not smoke:
            with contextlib.suppress(Exception):
                click.echo("demo stopped; every node it started is down.")


def _announce(cluster: DemoCluster, compact: str, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(cluster.summary()), nl=True)
        sys.stdout.flush()
        return
    c = load_compact(compact)
    click.echo(f"hotline demo: {c.title} — {len(cluster.nations)} nodes on 127.0.0.1")
    for nation in cluster.nations:
        click.echo(f"  {nation}  console/API {cluster.url(nation)}   CoT {cluster.cot(nation)}")
    click.echo("Demo logins (password = handle), e.g.:")
    for nation in cluster.nations[:3]:
        handles: list[str] = [str(o.handle) for o in c.officials_of(NationCode(nation), Layer.OPS)][
            :1
        ]
        handles += demo_logins(compact, nation)[:2]
        click.echo(f"  {nation}: {', '.join(dict.fromkeys(handles))}")
    sensors = [
        str(a.handle)
        for nation in cluster.nations[:3]
        for a in service_accounts_of(c, NationCode(nation))
    ]
    if sensors:
        more = ", ..." if len(cluster.nations) > 3 else ""
        click.echo(
            "Sensor accounts (reports only: POST /api/v1/reports; password = handle): "
            f"{', '.join(sensors)}{more}"
        )
    first = cluster.nations[0]
    chan = next(
        ch.id for ch in c.channels if ch.layer == Layer.OPS and len(ch.members) == len(c.nations)
    )
    click.echo("Try:")
    click.echo(
        f"  hotline watch --node {cluster.url(cluster.nations[1])} "
        f"--as {cluster.nations[1].lower()}.ops"
    )
    click.echo(
        f"  hotline send --node {cluster.url(first)} --as {first.lower()}.ops "
        f"--channel {chan} --precedence flash 'Launch detected'"
    )
    click.echo("Ctrl-C stops every node.")
    sys.stdout.flush()
