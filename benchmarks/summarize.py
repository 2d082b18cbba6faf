"""One markdown table from the JSONL figures of ``hotline bench`` and ``../shared/bench``.

    python benchmarks/summarize.py artifacts/bench [more folders or .jsonl files ...]

Latency: p50 / p99 in ms until every receiver has the message; throughput: messages per second
(hotline: durable 201s and delivered to every receiver; peers: as their scripts define it).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def _lat(s: dict[str, Any] | None) -> str:
    if not s or not s.get("n"):
        return "—"
    return f"{s['p50']:.2f} / {s['p99']:.2f}"


def _n(x: Any) -> str:
    return "—" if x is None else f"{x:,.0f}"


def rows_of(d: dict[str, Any]) -> list[list[str]]:
    b, label = d.get("bench"), d.get("label", "")
    when = d.get("machine", {}).get("date_utc", "")[:16]
    if b in ("hotline", "federation"):
        t = d["throughput"]
        lo = d["latency_loaded"]
        others = t.get("cpu", {}).get("others_cores")
        name = "hotline, 1 node" if b == "hotline" else "hotline, 3 nodes federated"
        return [
            [
                name,
                f"{label} {when}",
                _lat(d["latency_idle"]["e2e_all_ms"]),
                f"{_lat(lo['e2e_all_ms'])} (ROUTINE {lo['background']['achieved_per_s']:.0f}/s)",
                f"{_n(t['durable_per_s'])} durable; {_n(t['delivered_all_per_s'])} to all",
                f"{others}",
            ]
        ]
    if b == "floor-ws":
        name = "WebSocket relay" + (" + SQLite fsync/msg" if d.get("persist") else "")
        return [
            [
                name,
                f"{label} {when}",
                _lat(d["latency"]["e2e_both_ms"]),
                "—",
                _n(d["tput"]["delivered_per_s"]),
                "",
            ]
        ]
    if b == "federated-floor":
        lo = d["latency_loaded"]
        return [
            [
                "federated floor: 3 relays, fsync at each"
                + (", mutual TLS" if d.get("tls") else ", plain hops"),
                f"{label} {when}",
                _lat(d["latency_idle"]["e2e_all_ms"]),
                f"{_lat(lo['e2e_all_ms'])} (background {lo['background']['per_s']:.0f}/s)",
                f"{_n(d['throughput']['delivered_all_per_s'])} to all",
                f"{d['latency_idle'].get('usage', {}).get('others_cores')}",
            ]
        ]
    if b == "floor-sqlite":
        f = d["wal_sync_full"]
        return [
            [
                "SQLite commit (WAL, FULL)",
                f"{label} {when}",
                _lat(f["commit_ms"]),
                "—",
                f"{_n(f['commits_per_s'])} commits; {_n(f['batch100_rows_per_s'])} rows batched",
                "",
            ]
        ]
    if b == "nats":
        return [
            [
                "NATS core",
                f"{label} {when}",
                _lat(d["core_latency"]["e2e_both_ms"]),
                "—",
                _n(d["core_fanout"]["delivered_per_s"]),
                "",
            ],
            [
                "NATS JetStream (file)",
                f"{label} {when}",
                _lat(d["js_e2e_latency"]["e2e_both_ms"]),
                "—",
                f"{_n(d['js_tput_seq']['delivered_per_s'])} seq; "
                f"{_n(d['js_tput_async']['delivered_per_s'])} async",
                "",
            ],
        ]
    if b == "synapse":
        return [
            [
                f"Synapse {d.get('server_version', '')} + {d.get('db', '')}",
                f"{label} {when}",
                _lat(d["latency"]["e2e_both_ms"]),
                "—",
                f"{_n(d['seq_tput']['delivered_per_s'])} seq; "
                f"{_n(d['conc_tput']['delivered_per_s'])} with {d['conc_tput']['senders']}",
                "",
            ]
        ]
    return []


def main(paths: list[str]) -> None:
    files: list[Path] = []
    for p in map(Path, paths or ["artifacts/bench"]):
        files += sorted(p.glob("*.jsonl")) if p.is_dir() else [p]
    rows: list[list[str]] = []
    for f in files:
        for line in f.read_text().splitlines():
            if line.strip():
                rows += rows_of(json.loads(line))
    head = [
        "system",
        "run",
        "latency p50 / p99 ms (idle)",
        "FLASH p50 / p99 ms under load",
        "msg/s",
        "other load (cores)",
    ]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
