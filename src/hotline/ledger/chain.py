"""The per-peer federation stream hash chain.

Each stream ``origin -> destination`` is a chain of links. Link ``seq`` commits to the previous
link's hash, both endpoints, its sequence number and the exact event bytes::

    link_hash = SHA-256(TAG || u64(len(prev_hash)) || prev_hash
                            || u64(len(origin))    || origin        (UTF-8)
                            || u64(len(destination)) || destination (UTF-8)
                            || u64(seq)
                            || u64(len(event))     || event)

Every field is length-prefixed (u64 big-endian), so no two different field tuples encode to
the same bytes. The first link has ``seq == FIRST_SEQ`` and ``prev_hash == GENESIS``. Because a
link commits to its predecessor and its position, a receiver that holds the last accepted
``(seq, hash)`` detects a reordered, replayed, dropped or altered entry: the recomputed hash no
longer matches. Which error to raise (``OutOfOrder``, ``Replayed``) is the inbox's decision.

Pure: stdlib only, no I/O.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from collections.abc import Iterable, Sequence

GENESIS = bytes(32)
"""``prev_hash`` of the first link of every stream."""

FIRST_SEQ = 1
"""Sequence number of the first link (a fresh receiver's cursor is 0, so ``seq == last + 1``)."""

HASH_SIZE = 32
_TAG = b"hotline.stream-link.v1\x00"
_U64_MAX = (1 << 64) - 1
_U64 = struct.Struct(">Q").pack
_2U64 = struct.Struct(">QQ").pack


def link_hash(
    prev_hash: bytes, origin: str, destination: str, seq: int, event_bytes: bytes
) -> bytes:
    """Return the 32-byte hash of one stream link.

    Raises ``ValueError`` if ``prev_hash`` is not 32 bytes or ``seq`` is not in 0..2**64-1.
    """
    if len(prev_hash) != HASH_SIZE:
        raise ValueError(f"link_hash: prev_hash is {len(prev_hash)} bytes, expected {HASH_SIZE}")
    if not 0 <= seq <= _U64_MAX:
        raise ValueError(f"link_hash: seq {seq} is outside 0..2**64-1")
    o, d = origin.encode(), destination.encode()
    h = hashlib.sha256(
        b"".join(
            (
                _TAG,
                _U64(HASH_SIZE),
                prev_hash,
                _U64(len(o)),
                o,
                _U64(len(d)),
                d,
                _2U64(seq, len(event_bytes)),
            )
        )
    )
    h.update(event_bytes)
    return h.digest()


def verify_link(
    prev_hash: bytes,
    origin: str,
    destination: str,
    seq: int,
    event_bytes: bytes,
    expected: bytes,
) -> bool:
    """True if ``expected`` is the hash of this link; malformed input fails rather than raises."""
    try:
        actual = link_hash(prev_hash, origin, destination, seq, event_bytes)
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


def chain_hashes(
    origin: str,
    destination: str,
    events: Iterable[bytes],
    *,
    prev_hash: bytes = GENESIS,
    first_seq: int = FIRST_SEQ,
) -> list[bytes]:
    """Hash a run of consecutive events; element ``i`` is the link hash of ``first_seq + i``."""
    out: list[bytes] = []
    for i, event in enumerate(events):
        prev_hash = link_hash(prev_hash, origin, destination, first_seq + i, event)
        out.append(prev_hash)
    return out


def verify_chain(
    origin: str,
    destination: str,
    links: Sequence[tuple[int, bytes, bytes]],
    *,
    prev_hash: bytes = GENESIS,
    next_seq: int = FIRST_SEQ,
) -> int | None:
    """Check a run of ``(seq, event_bytes, link_hash)`` against a receiver's cursor.

    ``prev_hash``/``next_seq`` are the receiver's last accepted hash and the sequence number it
    expects next. Return ``None`` if every link follows on, else the position in ``links`` of the
    first one that does not (a gap, a replay, a reordering or a hash mismatch).
    """
    for i, (seq, event, expected) in enumerate(links):
        if seq != next_seq or not verify_link(prev_hash, origin, destination, seq, event, expected):
            return i
        prev_hash, next_seq = expected, next_seq + 1
    return None
