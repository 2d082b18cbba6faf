"""RFC 9162 Merkle hashing against the Certificate Transparency reference vectors.

The leaves, roots and proofs are the CT reference test data (google/certificate-transparency
``merkle_tree_test.cc``, also ``transparency-dev/merkle: testonly/constants.go``); every value
below was checked by computing it with this module.
"""

from __future__ import annotations

import hashlib

import pytest

from hotline.ledger.merkle import (
    EMPTY_ROOT,
    MerkleLog,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    root_of_hashes,
    verify_consistency,
    verify_inclusion,
)

LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
]
HASHES = [leaf_hash(d) for d in LEAVES]

# ROOTS[n] is the MTH of the first n leaves.
ROOTS = [
    bytes.fromhex(h)
    for h in (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    )
]


def _hx(*values: str) -> list[bytes]:
    return [bytes.fromhex(v) for v in values]


# (index, tree_size, proof)
INCLUSION_VECTORS = [
    (
        0,
        8,
        _hx(
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ),
    ),
    (
        5,
        8,
        _hx(
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ),
    ),
]

# (old_size, new_size, proof)
CONSISTENCY_VECTORS = [
    (1, 1, []),
    (
        1,
        8,
        _hx(
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ),
    ),
    (
        6,
        8,
        _hx(
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ),
    ),
    (
        2,
        5,
        _hx(
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ),
    ),
]


def test_leaf_and_node_hash_are_domain_separated() -> None:
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    assert (
        node_hash(b"L" * 32, b"R" * 32) == hashlib.sha256(b"\x01" + b"L" * 32 + b"R" * 32).digest()
    )


def test_empty_root_is_sha256_of_empty_string() -> None:
    assert root([]) == EMPTY_ROOT == hashlib.sha256(b"").digest() == ROOTS[0]
    assert MerkleLog().root() == EMPTY_ROOT


@pytest.mark.parametrize("n", range(len(ROOTS)))
def test_reference_roots(n: int) -> None:
    assert root(LEAVES[:n]) == ROOTS[n]
    assert root_of_hashes(HASHES[:n]) == ROOTS[n]
    assert MerkleLog.from_leaf_hashes(HASHES[:n]).root() == ROOTS[n]


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION_VECTORS)
def test_reference_inclusion_proofs(index: int, size: int, proof: list[bytes]) -> None:
    assert inclusion_proof(HASHES[:size], index) == proof
    assert verify_inclusion(HASHES[index], index, size, proof, ROOTS[size])


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY_VECTORS)
def test_reference_consistency_proofs(old: int, new: int, proof: list[bytes]) -> None:
    assert consistency_proof(HASHES[:new], old) == proof
    assert verify_consistency(old, new, ROOTS[old], ROOTS[new], proof)


def test_every_inclusion_and_consistency_proof_of_the_reference_tree_verifies() -> None:
    for n in range(1, 9):
        for i in range(n):
            proof = inclusion_proof(HASHES[:n], i)
            assert verify_inclusion(HASHES[i], i, n, proof, ROOTS[n])
        for m in range(n + 1):
            proof = consistency_proof(HASHES[:n], m)
            assert verify_consistency(m, n, ROOTS[m], ROOTS[n], proof)


def test_single_leaf_tree_has_empty_inclusion_proof() -> None:
    assert inclusion_proof(HASHES[:1], 0) == []
    assert verify_inclusion(HASHES[0], 0, 1, [], ROOTS[1])


@pytest.mark.parametrize(
    ("index", "size"), [(-1, 8), (8, 8), (0, 0), (9, 8)], ids=["negative", "eq", "empty", "gt"]
)
def test_inclusion_out_of_range(index: int, size: int) -> None:
    assert not verify_inclusion(HASHES[0], index, size, INCLUSION_VECTORS[0][2], ROOTS[8])
    if size == 8:
        with pytest.raises(ValueError, match="outside a tree of size 8"):
            inclusion_proof(HASHES, index)


def test_verify_rejects_malformed_hashes() -> None:
    index, size, proof = INCLUSION_VECTORS[0]
    assert not verify_inclusion(HASHES[0][:31], index, size, proof, ROOTS[8])
    assert not verify_inclusion(HASHES[0], index, size, [*proof[:2], proof[2] + b"\x00"], ROOTS[8])
    assert not verify_consistency(6, 8, ROOTS[6], ROOTS[8][:16], CONSISTENCY_VECTORS[2][2])


def test_consistency_trivial_and_invalid_cases() -> None:
    assert verify_consistency(0, 8, EMPTY_ROOT, ROOTS[8], [])
    assert not verify_consistency(0, 8, ROOTS[1], ROOTS[8], [])
    assert not verify_consistency(0, 8, EMPTY_ROOT, ROOTS[8], [ROOTS[1]])
    assert verify_consistency(8, 8, ROOTS[8], ROOTS[8], [])
    assert not verify_consistency(8, 8, ROOTS[8], ROOTS[7], [])
    assert not verify_consistency(8, 8, ROOTS[8], ROOTS[8], [ROOTS[1]])
    assert not verify_consistency(8, 6, ROOTS[8], ROOTS[6], CONSISTENCY_VECTORS[2][2])
    assert not verify_consistency(6, 8, ROOTS[6], ROOTS[8], [])
    with pytest.raises(ValueError, match=r"outside 0\.\.8"):
        consistency_proof(HASHES, 9)


def test_rewritten_history_is_not_consistent() -> None:
    forged = [*HASHES[:3], leaf_hash(b"rewritten"), *HASHES[4:]]
    proof = consistency_proof(forged, 6)
    assert not verify_consistency(6, 8, ROOTS[6], root_of_hashes(forged), proof)


def test_log_append_returns_index_and_tracks_roots() -> None:
    log = MerkleLog()
    for n, h in enumerate(HASHES):
        assert log.append(h) == n
        assert log.size == len(log) == n + 1
        assert log.root() == ROOTS[n + 1]
    assert len(log.frontier) == 1  # 8 leaves: one perfect subtree
    assert "size=8" in repr(log)


def test_log_restores_from_frontier() -> None:
    log = MerkleLog.from_leaf_hashes(HASHES[:7])
    assert len(log.frontier) == 3  # 7 = 4 + 2 + 1
    restored = MerkleLog.from_frontier(log.size, log.frontier)
    restored.append(HASHES[7])
    assert restored.root() == ROOTS[8]


def test_log_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        MerkleLog().append(b"short")
    with pytest.raises(ValueError, match="size 3 needs 2 hashes"):
        MerkleLog.from_frontier(3, [ROOTS[1]])


@pytest.mark.slow
def test_million_leaf_log_incremental_root_matches_batch() -> None:
    hashes = [leaf_hash(i.to_bytes(4, "big")) for i in range(1_000_000)]
    log = MerkleLog()
    for h in hashes:
        log.append(h)
    assert log.size == 1_000_000
    assert len(log.frontier) == (1_000_000).bit_count()
    assert log.root() == root_of_hashes(hashes)
    proof = inclusion_proof(hashes, 765_432)
    assert len(proof) == 20
    assert verify_inclusion(hashes[765_432], 765_432, 1_000_000, proof, log.root())
