"""Properties of the ledger: Merkle proofs hold for any log and fail after any tampering;
the stream chain refuses reordering, replay and a broken prev_hash; heads round-trip."""

from __future__ import annotations

import hashlib

import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import assume, given
from hypothesis import strategies as st

from hotline.domain.ids import NationCode
from hotline.errors import BadSignature
from hotline.ledger.chain import FIRST_SEQ, chain_hashes, verify_chain
from hotline.ledger.head import TreeHead, check_consistent, sign_head, verify_head
from hotline.ledger.merkle import (
    MerkleLog,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root,
    root_of_hashes,
    verify_consistency,
    verify_inclusion,
)

KEY = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"property key").digest())

leaves = st.lists(st.binary(max_size=8), max_size=70)
distinct_leaves = st.lists(st.binary(max_size=8), min_size=1, max_size=70, unique=True)


def _flip(value: bytes, bit: int) -> bytes:
    """``value`` with one bit flipped (``bit`` taken modulo the bit length)."""
    bit %= len(value) * 8
    out = bytearray(value)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


@st.composite
def tree_and_index(draw: st.DrawFn) -> tuple[list[bytes], int]:
    data = draw(distinct_leaves)
    return [leaf_hash(d) for d in data], draw(st.integers(0, len(data) - 1))


@st.composite
def tree_and_old_size(draw: st.DrawFn) -> tuple[list[bytes], int]:
    data = draw(st.lists(st.binary(max_size=8), min_size=1, max_size=70))
    return [leaf_hash(d) for d in data], draw(st.integers(0, len(data)))


@given(leaves)
def test_incremental_root_equals_batch_root_at_every_size(data: list[bytes]) -> None:
    hashes = [leaf_hash(d) for d in data]
    log = MerkleLog()
    for n, h in enumerate(hashes, start=1):
        log.append(h)
        assert log.root() == root_of_hashes(hashes[:n])
    assert log.root() == root(data)
    assert MerkleLog.from_leaf_hashes(hashes).root() == log.root()
    assert MerkleLog.from_frontier(log.size, log.frontier).root() == log.root()


@given(tree_and_index(), st.integers(min_value=0))
def test_inclusion_proof_verifies_and_fails_after_tampering(
    case: tuple[list[bytes], int], bit: int
) -> None:
    hashes, i = case
    n, r = len(hashes), root_of_hashes(hashes)
    proof = inclusion_proof(hashes, i)
    assert verify_inclusion(hashes[i], i, n, proof, r)
    assert not verify_inclusion(_flip(hashes[i], bit), i, n, proof, r)
    assert not verify_inclusion(hashes[i], i, n, proof, _flip(r, bit))
    for k in range(len(proof)):
        tampered = [*proof[:k], _flip(proof[k], bit), *proof[k + 1 :]]
        assert not verify_inclusion(hashes[i], i, n, tampered, r)
    for j in range(n):
        if j != i:
            assert not verify_inclusion(hashes[i], j, n, proof, r)
    assert not verify_inclusion(hashes[i], i, n, [*proof, r], r)
    if proof:
        assert not verify_inclusion(hashes[i], i, n, proof[:-1], r)


@given(tree_and_index())
def test_every_leaf_has_a_verifying_inclusion_proof(case: tuple[list[bytes], int]) -> None:
    hashes, _ = case
    r = root_of_hashes(hashes)
    for i, h in enumerate(hashes):
        assert verify_inclusion(h, i, len(hashes), inclusion_proof(hashes, i), r)


@given(tree_and_old_size(), st.integers(min_value=0))
def test_consistency_proof_verifies_and_fails_after_tampering(
    case: tuple[list[bytes], int], bit: int
) -> None:
    hashes, m = case
    n = len(hashes)
    old_root, new_root = root_of_hashes(hashes[:m]), root_of_hashes(hashes)
    proof = consistency_proof(hashes, m)
    assert verify_consistency(m, n, old_root, new_root, proof)
    assert not verify_consistency(m, n, _flip(old_root, bit), new_root, proof)
    if m > 0:  # the empty tree is a prefix of every tree, whatever its root
        assert not verify_consistency(m, n, old_root, _flip(new_root, bit), proof)
    for k in range(len(proof)):
        tampered = [*proof[:k], _flip(proof[k], bit), *proof[k + 1 :]]
        assert not verify_consistency(m, n, old_root, new_root, tampered)
    assert not verify_consistency(m, n, old_root, new_root, [*proof, new_root])
    if proof:
        assert not verify_consistency(m, n, old_root, new_root, proof[:-1])


@given(tree_and_old_size(), st.data())
def test_rewriting_any_old_leaf_breaks_consistency(
    case: tuple[list[bytes], int], data: st.DataObject
) -> None:
    hashes, m = case
    assume(m > 0)
    j = data.draw(st.integers(0, m - 1))
    forged = [*hashes[:j], leaf_hash(b"forged" + hashes[j]), *hashes[j + 1 :]]
    old_root = root_of_hashes(hashes[:m])
    assert not verify_consistency(
        m, len(forged), old_root, root_of_hashes(forged), consistency_proof(forged, m)
    )


@given(st.lists(st.binary(max_size=6), min_size=2, max_size=12, unique=True), st.data())
def test_chain_refuses_reordering_replay_and_broken_prev_hash(
    events: list[bytes], data: st.DataObject
) -> None:
    hashes = chain_hashes("USA", "KOR", events)
    links = [(FIRST_SEQ + i, e, h) for i, (e, h) in enumerate(zip(events, hashes, strict=True))]
    assert verify_chain("USA", "KOR", links) is None
    i = data.draw(st.integers(0, len(links) - 2))
    j = data.draw(st.integers(i + 1, len(links) - 1))
    swapped = list(links)
    swapped[i], swapped[j] = swapped[j], swapped[i]
    assert verify_chain("USA", "KOR", swapped) == i
    replayed = [*links[: j + 1], links[i], *links[j + 1 :]]
    assert verify_chain("USA", "KOR", replayed) == j + 1
    bad_prev = data.draw(st.binary(min_size=32, max_size=32).filter(lambda b: b != hashes[i]))
    assert verify_chain("USA", "KOR", links[i + 1 :], prev_hash=bad_prev, next_seq=i + 2) == 0
    resigned = [*links[:i], (i + 1, events[i] + b"!", links[i][2]), *links[i + 1 :]]
    assert verify_chain("USA", "KOR", resigned) == i


@given(
    st.sampled_from(["USA", "JPN", "KOR"]),
    st.integers(0, 2**63 - 1),
    st.binary(min_size=32, max_size=32),
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(min_value=0),
)
def test_head_sign_encode_decode_verify_round_trip(
    nation: str, size: int, root_bytes: bytes, at: float, bit: int
) -> None:
    head = TreeHead(nation=NationCode(nation), size=size, root=root_bytes.hex(), at=at)
    signed = sign_head(head, KEY.sign)
    decoded = msgspec.json.decode(msgspec.json.encode(signed), type=TreeHead)
    assert decoded == signed
    verify_head(decoded, KEY.public_key().verify)
    forged = msgspec.structs.replace(signed, root=_flip(root_bytes, bit).hex())
    try:
        verify_head(forged, KEY.public_key().verify)
    except BadSignature:
        pass
    else:
        raise AssertionError("a head with a changed root verified")


@given(tree_and_old_size())
def test_heads_of_one_growing_log_are_consistent(case: tuple[list[bytes], int]) -> None:
    hashes, m = case
    usa = NationCode("USA")
    old = TreeHead(nation=usa, size=m, root=root_of_hashes(hashes[:m]).hex(), at=1.0)
    new = TreeHead(nation=usa, size=len(hashes), root=root_of_hashes(hashes).hex(), at=2.0)
    assert check_consistent(old, new, consistency_proof(hashes, m))
