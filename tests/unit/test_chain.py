"""The per-peer stream hash chain: encoding, and what a receiver's check catches."""

from __future__ import annotations

import hashlib
import struct

import pytest

from hotline.ledger.chain import (
    FIRST_SEQ,
    GENESIS,
    chain_hashes,
    link_hash,
    verify_chain,
    verify_link,
)

EVENTS = [b'{"n":1}', b'{"n":2}', b'{"n":3}', b'{"n":4}']


def _links(events: list[bytes]) -> list[tuple[int, bytes, bytes]]:
    hashes = chain_hashes("USA", "JPN", events)
    return [(FIRST_SEQ + i, e, h) for i, (e, h) in enumerate(zip(events, hashes, strict=True))]


def test_link_hash_encoding_is_the_documented_one() -> None:
    def field(b: bytes) -> bytes:
        return struct.pack(">Q", len(b)) + b

    expected = hashlib.sha256(
        b"hotline.stream-link.v1\x00"
        + field(GENESIS)
        + field(b"USA")
        + field(b"JPN")
        + struct.pack(">Q", 1)
        + field(b"ev")
    ).digest()
    assert link_hash(GENESIS, "USA", "JPN", 1, b"ev") == expected


def test_length_prefixes_make_fields_unambiguous() -> None:
    assert link_hash(GENESIS, "US", "AJPN", 1, b"") != link_hash(GENESIS, "USA", "JPN", 1, b"")
    assert link_hash(GENESIS, "USA", "JPN", 1, b"") != link_hash(GENESIS, "USA", "JPN", 2, b"")
    assert link_hash(GENESIS, "USA", "JPN", 1, b"") != link_hash(GENESIS, "JPN", "USA", 1, b"")


def test_link_hash_rejects_bad_fields() -> None:
    with pytest.raises(ValueError, match="expected 32"):
        link_hash(b"\x00", "USA", "JPN", 1, b"")
    with pytest.raises(ValueError, match="outside"):
        link_hash(GENESIS, "USA", "JPN", -1, b"")
    assert not verify_link(b"\x00", "USA", "JPN", 1, b"", GENESIS)


def test_a_well_formed_stream_verifies_and_resumes_from_a_cursor() -> None:
    links = _links(EVENTS)
    assert verify_chain("USA", "JPN", links) is None
    seq, _, last = links[1]
    assert verify_chain("USA", "JPN", links[2:], prev_hash=last, next_seq=seq + 1) is None
    assert chain_hashes("USA", "JPN", EVENTS[2:], prev_hash=last, first_seq=3) == [
        h for _, _, h in links[2:]
    ]


def test_reordered_entries_are_refused() -> None:
    links = _links(EVENTS)
    assert verify_chain("USA", "JPN", [links[0], links[2], links[1], links[3]]) == 1


def test_replayed_entry_is_refused() -> None:
    links = _links(EVENTS)
    assert verify_chain("USA", "JPN", [*links[:3], links[2], links[3]]) == 3
    # A replay that also claims the next seq fails the hash instead.
    seq, event, h = links[2]
    assert verify_chain("USA", "JPN", [*links[:3], (seq + 1, event, h)]) == 3


def test_broken_prev_hash_and_altered_event_are_refused() -> None:
    links = _links(EVENTS)
    assert verify_chain("USA", "JPN", links[1:], prev_hash=bytes([1]) * 32, next_seq=2) == 0
    seq, _, h = links[1]
    assert verify_chain("USA", "JPN", [links[0], (seq, b'{"n":9}', h), *links[2:]]) == 1


def test_stream_is_bound_to_its_endpoints() -> None:
    links = _links(EVENTS)
    assert verify_chain("USA", "KOR", links) == 0
    assert verify_chain("JPN", "USA", links) == 0
