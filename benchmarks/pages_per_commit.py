"""What one commit writes: SQLite pages per stored message, by table and index.

A node's commit of one message (sent here, or a peer's applied here) is written to the WAL as
whole pages; their number drives the fsync's time and the checkpoints' work. This appends
``--warm`` messages to a fresh store (a real ``Projector`` on a real SQLite file, no server),
then ``--commits`` more one per transaction, reading after each the page numbers in the WAL's
frame headers and naming their b-tree with ``dbstat``.

Usage::

    python benchmarks/pages_per_commit.py [--compact camp-david|nato-32] [--role sender|receiver]
        [--warm 20000] [--commits 50] [--json]
"""

from __future__ import annotations

import argparse
import collections
import json
import struct
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hotline.bench.common import count_arg
from hotline.compacts import load_compact
from hotline.domain.compact import Channel, Compact
from hotline.domain.events import Envelope, MessageSent
from hotline.domain.ids import (
    ChannelId,
    Classification,
    EventId,
    Handle,
    MessageId,
    NationCode,
    Precedence,
)
from hotline.ports import new_id
from hotline.signing import Signer, generate_signing_key
from hotline.store import projections
from hotline.store.sqlite import connect, migrate

SENDER = NationCode("USA")
FRAME_HEADER = 24
WAL_HEADER = 32


def _widest_ops_channel(compact: Compact) -> Channel:
    """The sender's ops channel with the most members (all parties, where there is one)."""
    return max(
        (c for c in compact.channels if c.layer.value == "ops" and SENDER in c.members),
        key=lambda c: len(c.members),
    )


def measure(compact_id: str, role: str, warm: int, commits: int) -> dict[str, Any]:
    """Pages per commit (mean over ``commits``), by b-tree, at the ``role`` node."""
    compact = load_compact(compact_id)
    channel = _widest_ops_channel(compact)
    members = tuple(NationCode(n) for n in channel.members)
    node = SENDER if role == "sender" else next(n for n in members if n != SENDER)
    signer = Signer(SENDER, generate_signing_key())

    def message(i: int) -> Envelope:
        sent = MessageSent(
            message_id=MessageId(new_id("usa")),
            channel=ChannelId(channel.id),
            sender=Handle("usa.ops"),
            nation=SENDER,
            precedence=Precedence.ROUTINE,
            classification=Classification.SECRET,
            rel_to=members,
            body=f"{i} " + "x" * 100,
            sent_at=time.time(),
        )
        env = Envelope(
            id=EventId(new_id("e-usa")), origin=SENDER, at=time.time(), rel_to=members, body=sent
        )
        return signer.sign_envelope(env)

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pages.db"
        conn = connect(path)
        try:
            migrate(conn)
            projections.index_own_receipts(conn, node)
            projector = projections.Projector(compact, node)
            page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
            for i in range(warm):
                conn.execute("BEGIN IMMEDIATE")
                projector.append(conn, [message(i)])
                conn.execute("COMMIT")
            conn.execute("PRAGMA wal_autocheckpoint=0")
            counts: collections.Counter[str] = collections.Counter()
            spent = 0.0
            for i in range(commits):
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                t0 = time.perf_counter()
                conn.execute("BEGIN IMMEDIATE")
                projector.append(conn, [message(warm + i)])
                conn.execute("COMMIT")
                spent += time.perf_counter() - t0
                pages = _wal_pages(Path(f"{path}-wal"), page_size)
                marks = ",".join("?" * len(pages))
                owner = dict(
                    conn.execute(
                        f"SELECT pageno, name FROM dbstat WHERE pageno IN ({marks})", pages
                    ).fetchall()
                )
                counts.update(str(owner.get(p, "?")) for p in pages)
        finally:
            conn.close()
    by_tree = {k: round(v / commits, 2) for k, v in counts.most_common()}
    return {
        "compact": compact_id,
        "role": f"{role} ({node})",
        "peers": len(members) - 1,
        "warm": warm,
        "commits": commits,
        "pages_per_commit": round(sum(counts.values()) / commits, 2),
        "ms_per_commit": round(spent / commits * 1000, 3),
        "by_tree": by_tree,
    }


def _wal_pages(wal: Path, page_size: int) -> list[int]:
    """The page number of every frame in the WAL (each frame: a 24-byte header, then the page)."""
    data = wal.read_bytes()
    out, off = [], WAL_HEADER
    while off + FRAME_HEADER <= len(data):
        out.append(struct.unpack(">I", data[off : off + 4])[0])
        off += FRAME_HEADER + page_size
    return out


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--compact", choices=("camp-david", "nato-32"), default="camp-david")
    ap.add_argument("--role", choices=("sender", "receiver"), default="sender")
    ap.add_argument("--warm", type=count_arg(), default=20000, help="messages stored first")
    ap.add_argument("--commits", type=count_arg(), default=50, help="commits measured")
    ap.add_argument("--json", action="store_true", help="print the JSON figures only")
    args = ap.parse_args(argv)
    result = measure(args.compact, args.role, args.warm, args.commits)
    if args.json:
        print(json.dumps(result))
        return
    print(
        f"{result['compact']}, {result['role']}, {result['peers']} peers: "
        f"{result['pages_per_commit']} pages and {result['ms_per_commit']} ms per message commit"
    )
    for name, pages in result["by_tree"].items():
        print(f"  {pages:6.2f}  {name}")


if __name__ == "__main__":
    main()
