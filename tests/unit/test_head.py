"""Signed tree heads: signing bytes, Ed25519 sign/verify, and rewritten-history detection."""

from __future__ import annotations

import hashlib
import struct

import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hotline.domain.ids import NationCode
from hotline.errors import BadSignature, Invalid
from hotline.ledger.head import (
    TreeHead,
    check_consistent,
    head_signing_bytes,
    sign_head,
    verify_head,
)
from hotline.ledger.merkle import MerkleLog, consistency_proof, leaf_hash

USA = NationCode("USA")
KEY = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"test key usa").digest())
OTHER = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"test key kor").digest())
HASHES = [leaf_hash(f"event {i}".encode()) for i in range(10)]


def _head(n: int, hashes: list[bytes] = HASHES, at: float = 1_692_316_800.0) -> TreeHead:
    log = MerkleLog.from_leaf_hashes(hashes[:n])
    return TreeHead(nation=USA, size=log.size, root=log.root().hex(), at=at)


def test_signing_bytes_layout() -> None:
    head = _head(3)
    expected = (
        b"hotline.tree-head.v1\x00"
        + struct.pack(">Q", 3)
        + b"USA"
        + struct.pack(">Q", 3)
        + bytes.fromhex(head.root)
        + struct.pack(">d", head.at)
    )
    assert head_signing_bytes(head) == expected
    assert head_signing_bytes(sign_head(head, KEY.sign)) == expected  # sig is not signed


def test_sign_verify_round_trip_through_json() -> None:
    signed = sign_head(_head(5), KEY.sign)
    assert signed.sig and "=" not in signed.sig
    verify_head(signed, KEY.public_key().verify)
    decoded = msgspec.json.decode(msgspec.json.encode(signed), type=TreeHead)
    assert decoded == signed
    verify_head(decoded, KEY.public_key().verify)


@pytest.mark.parametrize(
    "change",
    [{"size": 6}, {"root": "00" * 32}, {"at": 1_692_316_801.0}, {"nation": "JPN"}],
    ids=["size", "root", "at", "nation"],
)
def test_any_changed_field_breaks_the_signature(change: dict[str, object]) -> None:
    signed = sign_head(_head(5), KEY.sign)
    tampered = msgspec.structs.replace(signed, **change)
    with pytest.raises(BadSignature, match="does not verify"):
        verify_head(tampered, KEY.public_key().verify)


def test_wrong_key_unsigned_and_garbled_signatures_are_refused() -> None:
    signed = sign_head(_head(5), KEY.sign)
    with pytest.raises(BadSignature, match="does not verify"):
        verify_head(signed, OTHER.public_key().verify)
    with pytest.raises(BadSignature, match="unsigned"):
        verify_head(_head(5), KEY.public_key().verify)
    for sig in ("a", "a+b/", signed.sig + "=", signed.sig[:-1] + "B"):
        garbled = msgspec.structs.replace(signed, sig=sig)
        with pytest.raises(BadSignature):
            verify_head(garbled, KEY.public_key().verify)


def test_malformed_heads_are_invalid() -> None:
    good = _head(1)
    for change in ({"root": good.root.upper()}, {"root": "ab"}, {"at": float("nan")}, {"size": -1}):
        with pytest.raises(Invalid):
            head_signing_bytes(msgspec.structs.replace(good, **change))
    with pytest.raises(msgspec.ValidationError, match="root"):
        msgspec.json.decode(
            b'{"nation":"USA","size":1,"root":"xyz","at":0.0,"sig":""}', type=TreeHead
        )


def test_check_consistent_accepts_an_extension() -> None:
    old, new = _head(4), _head(10)
    assert check_consistent(old, new, consistency_proof(HASHES, 4))
    assert check_consistent(new, new, [])
    assert check_consistent(_head(0), new, [])


def test_check_consistent_detects_a_rewritten_history() -> None:
    old = _head(4)
    rewritten = [*HASHES[:2], leaf_hash(b"forged"), *HASHES[3:]]
    new = _head(10, rewritten)
    assert not check_consistent(old, new, consistency_proof(rewritten, 4))
    # A fork at the same size, a shrinking log and a head of another nation are all refused.
    assert not check_consistent(_head(4, rewritten), old, [])
    assert not check_consistent(_head(10), old, [])
    other = msgspec.structs.replace(_head(10), nation=NationCode("KOR"))
    assert not check_consistent(old, other, consistency_proof(HASHES, 4))
    assert not check_consistent(old, msgspec.structs.replace(new, root="zz"), [])
