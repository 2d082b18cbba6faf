"""What the benchmarks share: statistics, /proc figures, a lean HTTP client, stream receivers,
wrk, CPU pinning and the output (a table, one JSON document, an optional JSONL file).

Everything talks to 127.0.0.1 only and every loop is bounded in count and in time. The
statistics (nearest-rank percentiles, milliseconds) and the /proc figures are computed exactly
as ``shared/bench/common.py`` computes them, so the figures compare with the peers' benches.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import msgspec
import websockets
from websockets.asyncio.client import ClientConnection

HOST = "127.0.0.1"
#: The body pad of the peers' benches (``floor_bench.py``, ``nats_bench.py``): "<seq> " + 100 B.
PAD = "x" * 100
CLK_TCK = os.sysconf("SC_CLK_TCK")
RUN = f"{random.getrandbits(32):08x}"

_json = msgspec.json.Encoder()


# ---- arguments of the benchmark scripts in benchmarks/ ---------------------------------------


def count_arg(lo: int = 1, hi: int | None = None) -> Callable[[str], int]:
    """An argparse ``type``: a whole number from ``lo`` (to ``hi``), or a one-line error that
    names what was given."""

    def parse(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a count") from None
        if n < lo or (hi is not None and n > hi):
            if lo == 1 and hi is None:
                raise argparse.ArgumentTypeError(f"{n} is not a positive count")
            span = f"{lo}.." + ("" if hi is None else str(hi))
            raise argparse.ArgumentTypeError(f"{n} is not a count of {span}")
        return n

    return parse


def seconds_arg(hi: float | None = None, least: float = 0.0) -> Callable[[str], float]:
    """An argparse ``type``: a duration in seconds from 0 (to ``hi``); one below ``least`` is
    refused as too short a timeout."""
    span = "0 or more" if hi is None else f"0..{hi:g}"

    def parse(text: str) -> float:
        try:
            s = float(text)
        except ValueError:
            s = math.nan
        if not (math.isfinite(s) and s >= 0.0 and (hi is None or s <= hi)):  # NaN too
            raise argparse.ArgumentTypeError(f"{text!r} is not a duration (seconds, {span})")
        if s < least:
            raise argparse.ArgumentTypeError(
                f"{text!r} is too short a timeout ({least:g} s or more)"
            )
        return s

    return parse


def base_port_arg(text: str) -> int:
    """An argparse ``type``: a base port for a block of benchmark ports (1024..65000)."""
    try:
        p = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port") from None
    if not 1024 <= p <= 65000:
        raise argparse.ArgumentTypeError(f"{p} is not a base port (1024..65000)")
    return p


# ---- statistics (same definitions as shared/bench/common.py) --------------------------------


def pct(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    if not values:
        return float("nan")
    s = sorted(values)
    k = max(0, min(len(s) - 1, round(p / 100.0 * len(s) + 0.5) - 1))
    return s[k]


def summarize_ms(values_s: Iterable[float]) -> dict[str, Any]:
    """n, p50, p90, p99, max, mean in milliseconds from seconds."""
    v = [x * 1000.0 for x in values_s]
    if not v:
        return {"n": 0}
    return {
        "n": len(v),
        "p50": round(pct(v, 50), 3),
        "p90": round(pct(v, 90), 3),
        "p99": round(pct(v, 99), 3),
        "max": round(max(v), 3),
        "mean": round(sum(v) / len(v), 3),
    }


def proc_stats(pid: int | None) -> dict[str, Any]:
    """RSS / peak RSS (MiB), cumulative CPU seconds and threads of a process (Linux /proc)."""
    if not pid:
        return {}
    out: dict[str, Any] = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    out[line.split()[0]] = round(int(line.split()[1]) / 1024.0, 1)
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        out["cpu_s"] = round((int(fields[11]) + int(fields[12])) / CLK_TCK, 2)
        out["threads"] = int(fields[17])
    except OSError:
        pass
    return {
        "rss_mib": out.get("VmRSS:"),
        "peak_rss_mib": out.get("VmHWM:"),
        "cpu_s": out.get("cpu_s"),
        "threads": out.get("threads"),
    }


def self_cpu_s() -> float:
    """CPU seconds of this process and of its waited-for children (wrk)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def machine_busy_s() -> float:
    """CPU seconds every CPU of the machine spent busy since boot (/proc/stat)."""
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


@dataclass
class Usage:
    """CPU use over a phase: the node(s), this client (with wrk), everything else on the box."""

    pids: dict[str, int]
    t0: float = 0.0
    busy0: float = 0.0
    self0: float = 0.0
    nodes0: dict[str, float] = field(default_factory=dict)

    def start(self) -> Usage:
        self.t0, self.busy0, self.self0 = time.perf_counter(), machine_busy_s(), self_cpu_s()
        self.nodes0 = {n: proc_stats(p).get("cpu_s") or 0.0 for n, p in self.pids.items()}
        return self

    def stop(self, messages: int) -> dict[str, Any]:
        wall = max(1e-9, time.perf_counter() - self.t0)
        nodes = {
            n: (proc_stats(p).get("cpu_s") or 0.0) - self.nodes0[n] for n, p in self.pids.items()
        }
        client = self_cpu_s() - self.self0
        busy = machine_busy_s() - self.busy0
        others = max(0.0, busy - client - sum(nodes.values()))
        return {
            "wall_s": round(wall, 3),
            "server_cpu_s": {n: round(v, 2) for n, v in nodes.items()},
            "server_cores": {n: round(v / wall, 2) for n, v in nodes.items()},
            "server_cpu_ms_per_msg": {
                n: round(v * 1000 / max(1, messages), 3) for n, v in nodes.items()
            },
            "client_cores": round(client / wall, 2),
            #: Other processes on the machine (other people's work): a noisy-box indicator.
            "others_cores": round(others / wall, 2),
        }


def machine_facts() -> dict[str, Any]:
    mem_kib = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    cpu_model = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    return {
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "host": socket.gethostname(),
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model,
        "mem_gib": round(mem_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "loadavg": os.getloadavg(),
    }


def fsync_probe(n: int = 100) -> dict[str, Any]:
    """``n`` one-row commits in SQLite WAL with ``synchronous=FULL`` (one fsync each), timed:
    the disk's state during this run (other people's work makes fsync slow and costly)."""
    import sqlite3

    folder = tempfile.mkdtemp(prefix="hotline-bench-probe-")
    path = os.path.join(folder, "probe.db")
    lat = []
    try:
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("CREATE TABLE m (id INTEGER PRIMARY KEY, body TEXT)")
        t_end = time.monotonic() + 5.0
        for i in range(n):
            if time.monotonic() > t_end:
                break
            t0 = time.perf_counter()
            db.execute("BEGIN")
            db.execute("INSERT INTO m (body) VALUES (?)", (f"{i} {PAD}",))
            db.execute("COMMIT")
            lat.append(time.perf_counter() - t0)
        db.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {"sqlite_full_commit_ms": summarize_ms(lat)}


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("hotline", "litestar", "uvicorn", "uvloop", "httptools", "websockets", "msgspec"):
        with contextlib.suppress(PackageNotFoundError):
            out[pkg] = version(pkg)
    import sqlite3

    out["sqlite"] = sqlite3.sqlite_version
    return out


# ---- ports and CPU pinning -------------------------------------------------------------------


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


def free_base_port(parties: int = 3) -> int:
    """A base port whose demo block for a compact of ``parties`` (``node.node_ports``) is free
    on 127.0.0.1."""
    from hotline.node import port_stride

    stride = port_stride(parties)
    ports = [k * stride + n for k in range(3) for n in range(1, parties + 1)]
    for _ in range(200):
        base = random.randrange(10000, 32000, 10 * stride)
        if all(_bindable(base + p) for p in ports):
            return base
    raise click.ClickException("no free block of ports on 127.0.0.1")


def parse_cpus(spec: str, role: str = "server") -> set[int] | None:
    """``"0"``, ``"0,1"``, ``"0-1"`` -> a CPU set; ``""``/``"all"`` -> None (no pinning);
    ``"auto"``: the node on the first available CPU and the client on the second, or no
    pinning with fewer than two."""
    spec = spec.strip().lower()
    if spec in ("", "all", "none"):
        return None
    if spec == "auto":
        cpus_available = sorted(os.sched_getaffinity(0))
        if len(cpus_available) < 2:
            return None
        return {cpus_available[0] if role == "server" else cpus_available[1]}
    cpus: set[int] = set()
    for part in spec.split(","):
        if "-" in part:
            lo, hi = part.split("-", 1)
            cpus.update(range(int(lo), int(hi) + 1))
        else:
            cpus.add(int(part))
    available = os.sched_getaffinity(0)
    if not cpus <= available:
        raise click.BadParameter(f"CPUs {sorted(cpus - available)} are not available here")
    return cpus


def pin_process(pid: int, cpus: set[int] | None) -> None:
    """Pin every thread of ``pid`` (threads it starts later inherit the main thread's mask)."""
    if cpus is None:
        return
    for tid in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(int(tid), cpus)


# ---- a lean HTTP/1.1 client (keep-alive, one request in flight per connection) --------------


class HttpError(Exception):
    pass


class _HttpProtocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        self._try_complete()

    def _try_complete(self) -> None:
        end = self.buf.find(b"\r\n\r\n")
        if end < 0 or self.waiter is None:
            return
        head = bytes(self.buf[:end])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if len(self.buf) < end + 4 + length:
            return
        status = int(head[9:12])
        body = bytes(self.buf[end + 4 : end + 4 + length])
        del self.buf[: end + 4 + length]
        waiter, self.waiter = self.waiter, None
        if not waiter.done():
            waiter.set_result((status, body))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(HttpError(f"connection lost: {exc}"))


class RawHttp:
    """One keep-alive connection; ``post`` returns (status, body). Much cheaper than httpx."""

    def __init__(self, proto: _HttpProtocol, host: str, port: int) -> None:
        self.proto = proto
        self.hostport = f"{host}:{port}".encode()
        self.token: str | None = None

    @classmethod
    async def open(cls, base_url: str) -> RawHttp:
        host, port = _host_port(base_url)
        loop = asyncio.get_running_loop()
        _, proto = await loop.create_connection(_HttpProtocol, host, port)
        return cls(proto, host, port)

    async def request(
        self, method: str, path: str, body: bytes = b"", timeout_s: float = 30.0
    ) -> tuple[int, bytes]:
        if self.proto.closed or self.proto.transport is None:
            raise HttpError("connection closed")
        head = (
            f"{method} {path} HTTP/1.1\r\nhost: {self.hostport.decode()}\r\n"
            f"content-type: application/json\r\ncontent-length: {len(body)}\r\n"
        )
        if self.token:
            head += f"authorization: Bearer {self.token}\r\n"
        fut: asyncio.Future[tuple[int, bytes]] = asyncio.get_running_loop().create_future()
        self.proto.waiter = fut
        self.proto.transport.write(head.encode() + b"\r\n" + body)
        return await asyncio.wait_for(fut, timeout_s)

    async def login(self, handle: str, password: str | None = None) -> str:
        status, body = await self.request(
            "POST",
            "/api/v1/login",
            _json.encode({"handle": handle, "password": password or handle}),
        )
        if status != 200:
            raise click.ClickException(f"login {handle}: HTTP {status} {body[:200]!r}")
        self.token = str(msgspec.json.decode(body)["token"])
        return self.token

    def close(self) -> None:
        if self.proto.transport is not None:
            self.proto.transport.close()


def _host_port(base_url: str) -> tuple[str, int]:
    rest = base_url.split("://", 1)[-1].rstrip("/")
    host, _, port = rest.rpartition(":")
    if host not in ("127.0.0.1", "localhost", "::1", "[::1]"):
        raise click.ClickException(f"refusing non-loopback target {base_url!r}")
    return host, int(port)


def message_body(seq: int, precedence: str) -> bytes:
    """A send request with the peers' message size: "<seq> " + 100 bytes of pad."""
    return _json.encode({"precedence": precedence, "body": f"{seq} {PAD}"})


# ---- receivers: officials' live streams, timing when each bench message arrives -------------


def seq_of(frame: str | bytes) -> int | None:
    """The bench sequence number of a ``message`` frame, or None (receipts, hello, pong ...)."""
    text = frame if isinstance(frame, str) else frame.decode()
    i = text.find('"body":"')
    if i < 0:
        return None
    j = text.find(" ", i + 8)
    try:
        return int(text[i + 8 : j])
    except ValueError:
        return None


@dataclass
class Hub:
    """Arrival times of bench messages at several receivers; futures for "all have it"."""

    names: list[str]
    recv: dict[str, dict[int, float]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    waiters: dict[int, asyncio.Future[float]] = field(default_factory=dict)
    #: (lo, hi) range of seqs counted as "delivered to all" for throughput phases.
    window: tuple[int, int] = (0, 0)
    all_count: int = 0
    last_all_at: float = 0.0

    def __post_init__(self) -> None:
        self.recv = {n: {} for n in self.names}
        self.counts = dict.fromkeys(self.names, 0)

    def got(self, name: str, seq: int, now: float) -> None:
        mine = self.recv[name]
        if seq in mine:
            return
        mine[seq] = now
        self.counts[name] += 1
        for other in self.names:
            if seq not in self.recv[other]:
                return
        if self.window[0] <= seq < self.window[1]:
            self.all_count += 1
            self.last_all_at = now
        fut = self.waiters.pop(seq, None)
        if fut is not None and not fut.done():
            fut.set_result(now)

    def all_time(self, seq: int) -> float | None:
        ts = [self.recv[n].get(seq) for n in self.names]
        return None if None in ts else max(t for t in ts if t is not None)


async def open_stream(base_url: str, token: str) -> ClientConnection:
    url = base_url.replace("http", "ws", 1) + f"/api/v1/stream?token={token}"
    ws = await websockets.connect(url, max_size=2**22, max_queue=None, compression=None)
    hello = msgspec.json.decode(await asyncio.wait_for(ws.recv(), 10))
    if hello.get("type") != "hello":
        raise click.ClickException(f"stream refused: {hello}")
    return ws


async def receive_loop(ws: ClientConnection, hub: Hub, name: str) -> None:
    perf = time.perf_counter
    with contextlib.suppress(websockets.ConnectionClosed, asyncio.CancelledError):
        async for frame in ws:
            seq = seq_of(frame)
            if seq is not None:
                hub.got(name, seq, perf())


async def wait_count(hub: Hub, target: int, timeout_s: float, idle_s: float = 5.0) -> bool:
    """Wait until ``hub.all_count >= target``; gives up after ``timeout_s`` or ``idle_s`` without
    progress. True if reached."""
    t_end = time.monotonic() + timeout_s
    last, last_change = hub.all_count, time.monotonic()
    while hub.all_count < target and time.monotonic() < t_end:
        await asyncio.sleep(0.02)
        if hub.all_count != last:
            last, last_change = hub.all_count, time.monotonic()
        elif time.monotonic() - last_change > idle_s:
            break
    return hub.all_count >= target


# ---- latency and load phases -----------------------------------------------------------------


async def latency_phase(
    sender: RawHttp,
    path: str,
    hub: Hub,
    n: int,
    seq0: int,
    deadline_s: float,
    precedence: str = "flash",
    per_message_timeout_s: float = 10.0,
    gap_s: float = 0.0,
) -> dict[str, Any]:
    """One message at a time; each timed from the API call until every receiver has it, then
    ``gap_s`` of quiet before the next."""
    loop = asyncio.get_running_loop()
    post_rtt: list[float] = []
    all_lat: list[float] = []
    per: dict[str, list[float]] = {name: [] for name in hub.names}
    lost = errors = 0
    t_end = time.monotonic() + deadline_s
    for i in range(n):
        if time.monotonic() > t_end:
            break
        seq = seq0 + i
        fut: asyncio.Future[float] = loop.create_future()
        hub.waiters[seq] = fut
        t0 = time.perf_counter()
        status, _ = await sender.request("POST", path, message_body(seq, precedence))
        t1 = time.perf_counter()
        if status != 201:
            errors += 1
            hub.waiters.pop(seq, None)
            continue
        try:
            await asyncio.wait_for(fut, per_message_timeout_s)
        except TimeoutError:
            lost += 1
            continue
        post_rtt.append(t1 - t0)
        t_all = hub.all_time(seq)
        assert t_all is not None
        all_lat.append(t_all - t0)
        for name in hub.names:
            per[name].append(hub.recv[name][seq] - t0)
        if gap_s > 0:
            await asyncio.sleep(gap_s)
    return {
        "precedence": precedence,
        "post_201_ms": summarize_ms(post_rtt),
        "e2e_all_ms": summarize_ms(all_lat),
        **{f"e2e_{name}_ms": summarize_ms(v) for name, v in per.items()},
        "lost": lost,
        "errors": errors,
    }


@dataclass
class Background:
    """A paced ROUTINE load over a few connections (closed loop: it never exceeds the rate)."""

    conns: list[RawHttp]
    path: str
    rate: float
    seq0: int
    sent: int = 0
    errors: int = 0
    started: float = 0.0
    stopped: float = 0.0
    _stop: bool = False
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def start(self, max_s: float) -> None:
        if self.rate <= 0 or not self.conns:
            return
        self.started = time.perf_counter()
        interval = len(self.conns) / self.rate
        for k, conn in enumerate(self.conns):
            self._tasks.append(asyncio.create_task(self._run(conn, k, interval, max_s)))

    async def _run(self, conn: RawHttp, k: int, interval: float, max_s: float) -> None:
        nxt = time.perf_counter() + interval * k / len(self.conns)
        t_end = time.perf_counter() + max_s
        i = 0
        while not self._stop and time.perf_counter() < t_end:
            delay = nxt - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            nxt = max(nxt + interval, time.perf_counter() - 1.0)  # bounded catch-up
            seq = self.seq0 + k * 10_000_000 + i
            i += 1
            try:
                status, _ = await conn.request("POST", self.path, message_body(seq, "routine"))
            except (HttpError, TimeoutError):
                self.errors += 1
                return
            if status == 201:
                self.sent += 1
            else:
                self.errors += 1

    async def stop(self) -> dict[str, Any]:
        self._stop = True
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self.stopped = time.perf_counter()
        dur = max(1e-9, self.stopped - self.started) if self.started else 0.0
        return {
            "precedence": "routine",
            "target_per_s": self.rate,
            "achieved_per_s": round(self.sent / dur, 1) if dur else 0.0,
            "sent": self.sent,
            "errors": self.errors,
        }


async def python_load(
    base_url: str, token: str, path: str, senders: int, seconds: float, seq0: int
) -> dict[str, Any]:
    """Closed-loop load with the lean client: ``senders`` connections for ``seconds``."""
    conns = [await RawHttp.open(base_url) for _ in range(senders)]
    for c in conns:
        c.token = token
    lat: list[float] = []
    ok = errors = 0
    t_end = time.perf_counter() + seconds

    async def worker(k: int, conn: RawHttp) -> None:
        nonlocal ok, errors
        i = 0
        while time.perf_counter() < t_end:
            seq = seq0 + k * 10_000_000 + i
            i += 1
            t0 = time.perf_counter()
            try:
                status, _ = await conn.request("POST", path, message_body(seq, "routine"))
            except (HttpError, TimeoutError):
                errors += 1
                return
            if status == 201:
                ok += 1
                lat.append(time.perf_counter() - t0)
            else:
                errors += 1

    c0 = self_cpu_s()
    t0 = time.perf_counter()
    await asyncio.gather(*(worker(k, c) for k, c in enumerate(conns)))
    dur = time.perf_counter() - t0
    client_cpu = self_cpu_s() - c0
    for c in conns:
        c.close()
    return {
        "client": "python (lean asyncio HTTP/1.1)",
        "connections": senders,
        "duration_s": round(dur, 3),
        "requests_2xx": ok,
        "errors": errors,
        "durable_per_s": round(ok / dur, 1),
        "post_201_ms": summarize_ms(lat),
        "client_cpu_s": round(client_cpu, 2),
        "client_cpu_share": round(client_cpu / dur, 2),
    }


# ---- wrk -------------------------------------------------------------------------------------

WRK_LUA = r"""
-- hotline bench: POST messages with a bearer token the bench obtained by logging in once.
-- args: token path precedence seq_base pad
local counter = 0
nthreads = 0
function setup(thread)
  thread:set("tid", nthreads)
  nthreads = nthreads + 1
end
function init(args)
  tid = tid or 0
  token, path, prec, base, pad = args[1], args[2], args[3], tonumber(args[4]), args[5]
  wrk.method = "POST"
  wrk.headers["Authorization"] = "Bearer " .. token
  wrk.headers["Content-Type"] = "application/json"
end
function request()
  counter = counter + 1
  local body = string.format('{"precedence":"%s","body":"%d %s"}', prec,
                             base + tid * 10000000 + counter, pad)
  return wrk.format("POST", path, nil, body)
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"non2xx":%d,"connect":%d,"read":%d,' ..
    '"write":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"mean_us":%.1f}\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean))
end
"""


def wrk_path() -> str | None:
    return shutil.which("wrk")


async def wrk_load(
    base_url: str,
    token: str,
    path: str,
    connections: int,
    seconds: float,
    seq0: int,
    cpus: set[int] | None,
    threads: int = 1,
) -> dict[str, Any]:
    """Run wrk (pinned to ``cpus``) for ``seconds``; parse the figures its Lua ``done`` prints."""
    exe = wrk_path()
    assert exe is not None
    _host_port(base_url)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(WRK_LUA)
        script = f.name
    cmd = [
        exe,
        f"-t{threads}",
        f"-c{max(connections, threads)}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "30s",
        "-s",
        script,
        base_url + path,
        "--",
        token,
        path,
        "routine",
        str(seq0),
        PAD,
    ]
    if cpus is not None and shutil.which("taskset"):
        cmd = ["taskset", "-c", ",".join(map(str, sorted(cpus))), *cmd]
    try:
        proc = await asyncio.create_subprocess_exec(
            *cmd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        out, err = await asyncio.wait_for(proc.communicate(), seconds + 60)
    finally:
        os.unlink(script)
    line = next((x for x in out.decode().splitlines() if x.startswith("WRKJSON ")), None)
    if proc.returncode != 0 or line is None:
        raise click.ClickException(f"wrk failed ({proc.returncode}): {err.decode()[-500:]}")
    w = json.loads(line[8:])
    dur = w["duration_us"] / 1e6
    errors = w["non2xx"] + w["connect"] + w["read"] + w["write"] + w["timeout"]
    ok = w["requests"] - w["non2xx"]
    return {
        "client": f"wrk -t{threads} -c{connections} (Lua script, one login by the bench)",
        "connections": connections,
        "duration_s": round(dur, 3),
        "requests_2xx": ok,
        "errors": errors,
        "durable_per_s": round(ok / dur, 1),
        "post_201_ms": {
            "n": ok,
            "p50": round(w["p50_us"] / 1000, 3),
            "p90": round(w["p90_us"] / 1000, 3),
            "p99": round(w["p99_us"] / 1000, 3),
            "max": round(w["max_us"] / 1000, 3),
            "mean": round(w["mean_us"] / 1000, 3),
        },
    }


def choose_client(client: str) -> str:
    """``auto`` -> wrk if installed, else python (with a clear note)."""
    if client == "wrk" and wrk_path() is None:
        raise click.ClickException(
            "wrk is not installed (apt-get install -y wrk); use --client python"
        )
    if client == "auto":
        if wrk_path() is None:
            click.echo(
                "note: wrk not found (apt-get install -y wrk): the throughput figure comes from "
                "the Python client, which may be the bottleneck on 2 cores",
                err=True,
            )
            return "python"
        return "wrk"
    return client


# ---- output ----------------------------------------------------------------------------------


def emit(
    result: dict[str, Any], rows: list[tuple[str, str]], as_json: bool, out: Path | None
) -> None:
    """Print a table (unless ``as_json``) and the JSON figures; append a line to ``out``."""
    if not as_json:
        width = max(len(k) for k, _ in rows) if rows else 10
        click.echo(f"\n{result.get('bench', 'bench')} — {result.get('label') or RUN}")
        click.echo("-" * (width + 40))
        for k, v in rows:
            click.echo(f"{k.ljust(width)}  {v}")
        click.echo("-" * (width + 40))
    click.echo(json.dumps(result, indent=None if as_json else 1))
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("a") as f:
            f.write(json.dumps(result) + "\n")
    sys.stdout.flush()


def lat_row(s: dict[str, Any]) -> str:
    if not s or not s.get("n"):
        return "—"
    return (
        f"p50 {s['p50']:.2f}  p90 {s['p90']:.2f}  p99 {s['p99']:.2f}  "
        f"max {s['max']:.2f} ms  (n={s['n']})"
    )


def run_cmd(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def cpu_note(cpus: set[int] | None) -> str:
    return "all" if cpus is None else ",".join(map(str, sorted(cpus)))


Closer = Callable[[], None]
