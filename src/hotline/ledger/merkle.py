"""RFC 9162 (Certificate Transparency v2) Merkle tree hashing, proofs and an incremental log.

Hashing is RFC 9162 §2.1.1 with SHA-256::

    leaf hash   HASH(0x00 || data)
    node hash   HASH(0x01 || left || right)
    MTH({})     HASH()                      (SHA-256 of the empty string)
    MTH(D[n])   HASH(0x01 || MTH(D[0:k]) || MTH(D[k:n]))   k = largest power of two < n

Proof generation works on the list of *leaf hashes* a node stores (one per event) and costs
O(n) hashing; verification costs O(log n) and needs only the proof. ``MerkleLog`` keeps the
compact range (the roots of the perfect subtrees that make up the tree, one per set bit of the
size), so each append costs amortised O(1) hashes and ``root()`` O(log n).

Pure: stdlib ``hashlib`` only, no I/O.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence

HASH_SIZE = 32
"""Bytes in every leaf, node and root hash (SHA-256)."""

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""MTH of the empty tree: SHA-256 of the empty string."""

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


def leaf_hash(data: bytes) -> bytes:
    """Return the RFC 9162 leaf hash SHA-256(0x00 || data)."""
    return hashlib.sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the RFC 9162 interior node hash SHA-256(0x01 || left || right)."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def root(leaves: Sequence[bytes]) -> bytes:
    """Return MTH(D[n]) of the raw leaf *data* ``leaves`` (each is hashed with ``leaf_hash``)."""
    return root_of_hashes([leaf_hash(d) for d in leaves])


def root_of_hashes(leaf_hashes: Sequence[bytes]) -> bytes:
    """Return the tree root over already-computed leaf hashes (``EMPTY_ROOT`` for none)."""
    return _range_root(leaf_hashes, 0, len(leaf_hashes))


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """Return PATH(index, D[n]) of RFC 9162 §2.1.3.1, nearest sibling first.

    Raises ``ValueError`` unless ``0 <= index < len(leaf_hashes)``.
    """
    n = len(leaf_hashes)
    if not 0 <= index < n:
        raise ValueError(f"inclusion_proof: index {index} is outside a tree of size {n}")
    path: list[bytes] = []
    lo, hi = 0, n
    # Walk down from the root; each step records the sibling subtree the leaf is not in.
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            path.append(_range_root(leaf_hashes, lo + k, hi))
            hi = lo + k
        else:
            path.append(_range_root(leaf_hashes, lo, lo + k))
            lo += k
    path.reverse()
    return path


def verify_inclusion(
    leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Check an inclusion proof with the algorithm of RFC 9162 §2.1.3.2.

    True only if ``leaf_hash`` is the leaf at ``index`` in the tree of ``tree_size`` leaves whose
    root is ``root``. Never raises on bad input: malformed values simply fail.
    """
    if not 0 <= index < tree_size or not _all_hashes([leaf_hash, root, *proof]):
        return False
    fn, sn = index, tree_size - 1
    r = leaf_hash
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and hmac.compare_digest(r, root)


def consistency_proof(leaf_hashes: Sequence[bytes], old_size: int) -> list[bytes]:
    """Return PROOF(old_size, D[n]) of RFC 9162 §2.1.4.1 for ``n = len(leaf_hashes)``.

    The proof is empty when ``old_size`` is 0 or ``n`` (nothing to prove).
    Raises ``ValueError`` unless ``0 <= old_size <= n``.
    """
    n = len(leaf_hashes)
    if not 0 <= old_size <= n:
        raise ValueError(f"consistency_proof: old size {old_size} is outside 0..{n}")
    if old_size in (0, n):
        return []
    proof: list[bytes] = []
    m, lo, hi, complete = old_size, 0, n, True
    # SUBPROOF(m, D[lo:hi], complete), unrolled: append the sibling at each level, then reverse.
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            proof.append(_range_root(leaf_hashes, lo + k, hi))
            hi = lo + k
        else:
            proof.append(_range_root(leaf_hashes, lo, lo + k))
            m -= k
            lo += k
            complete = False
    if not complete:
        proof.append(_range_root(leaf_hashes, lo, hi))
    proof.reverse()
    return proof


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Check that the tree (new_size, new_root) extends (old_size, old_root), RFC 9162 §2.1.4.2.

    Trivial cases, where the RFC defines no proof: ``old_size == new_size`` needs equal roots
    and an empty proof; ``old_size == 0`` needs ``old_root == EMPTY_ROOT`` and an empty proof.
    Never raises on bad input: malformed values simply fail.
    """
    if not 0 <= old_size <= new_size or not _all_hashes([old_root, new_root, *proof]):
        return False
    if old_size == new_size:
        return not proof and hmac.compare_digest(old_root, new_root)
    if old_size == 0:
        return not proof and hmac.compare_digest(old_root, EMPTY_ROOT)
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is itself a subtree
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and hmac.compare_digest(fr, old_root) and hmac.compare_digest(sr, new_root)


class MerkleLog:
    """An append-only Merkle log that keeps only its compact range.

    ``frontier`` holds the roots of the perfect subtrees that make up the tree, largest (leftmost)
    first, one per set bit of ``size``. An append merges equal-sized subtrees like a binary
    counter increment (amortised O(1) hashes); ``root()`` folds the frontier right to left in
    O(log n). Memory is O(log n): the leaves themselves live in the store.
    """

    __slots__ = ("_frontier", "_size")

    def __init__(self) -> None:
        self._size = 0
        self._frontier: list[bytes] = []

    @classmethod
    def from_leaf_hashes(cls, leaf_hashes: Iterable[bytes]) -> MerkleLog:
        """Rebuild the log from the stored leaf hashes, in order (O(n))."""
        log = cls()
        for h in leaf_hashes:
            log.append(h)
        return log

    @classmethod
    def from_frontier(cls, size: int, frontier: Sequence[bytes]) -> MerkleLog:
        """Restore a log from a saved ``(size, frontier)`` without rereading its leaves.

        Raises ``ValueError`` if the frontier does not have one 32-byte hash per set bit of size.
        """
        if size < 0 or len(frontier) != size.bit_count() or not _all_hashes(frontier):
            raise ValueError(
                f"MerkleLog.from_frontier: size {size} needs {max(size, 0).bit_count()} "
                f"hashes of {HASH_SIZE} bytes, got {len(frontier)}"
            )
        log = cls()
        log._size = size
        log._frontier = list(frontier)
        return log

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    @property
    def frontier(self) -> tuple[bytes, ...]:
        """The compact range: perfect subtree roots, largest first (persist with ``size``)."""
        return tuple(self._frontier)

    def append(self, leaf_hash: bytes) -> int:
        """Append one leaf hash (see ``leaf_hash``); return its index.

        Raises ``ValueError`` if ``leaf_hash`` is not 32 bytes.
        """
        if not _all_hashes([leaf_hash]):
            raise ValueError(f"MerkleLog.append: a leaf hash is {HASH_SIZE} bytes")
        index = self._size
        h = leaf_hash
        # Each trailing one bit of the old size is a same-sized subtree to merge with.
        carry = index
        while carry & 1:
            h = node_hash(self._frontier.pop(), h)
            carry >>= 1
        self._frontier.append(h)
        self._size += 1
        return index

    def root(self) -> bytes:
        """Return the tree root over all appended leaves (``EMPTY_ROOT`` when empty)."""
        if not self._frontier:
            return EMPTY_ROOT
        r = self._frontier[-1]
        for h in reversed(self._frontier[:-1]):
            r = node_hash(h, r)
        return r

    def __len__(self) -> int:
        return self._size

    def __repr__(self) -> str:
        return f"MerkleLog(size={self._size}, root={self.root().hex()})"


def _split(n: int) -> int:
    """Largest power of two strictly less than ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def _range_root(leaf_hashes: Sequence[bytes], lo: int, hi: int) -> bytes:
    """MTH of ``leaf_hashes[lo:hi]`` in O(hi - lo) hashes and O(log n) memory."""
    if lo == hi:
        return EMPTY_ROOT
    stack: list[bytes] = []
    for count in range(hi - lo):
        h = leaf_hashes[lo + count]
        while count & 1:
            h = node_hash(stack.pop(), h)
            count >>= 1
        stack.append(h)
    r = stack.pop()
    while stack:
        r = node_hash(stack.pop(), r)
    return r


def _all_hashes(values: Iterable[object]) -> bool:
    return all(isinstance(v, bytes) and len(v) == HASH_SIZE for v in values)
