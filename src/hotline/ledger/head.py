"""Signed tree heads: a node's commitment to the state of its Merkle log.

A node signs ``(nation, size, root, at)`` with its Ed25519 key and sends the head to its peers.
A peer that later receives a newer head from the same nation asks for a consistency proof
between the two sizes and runs ``check_consistent``; a failure means the nation rewrote (or
forked) its history. The key is passed in as plain callables, so this module never handles keys::

    signed = sign_head(head, private_key.sign)      # cryptography's Ed25519PrivateKey
    verify_head(signed, public_key.verify)          # cryptography's Ed25519PublicKey

The signed message is a fixed binary encoding (``head_signing_bytes``), not JSON, so a
re-serialisation of the head can never change what was signed.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import struct
from collections.abc import Callable, Sequence
from typing import Annotated

import msgspec

from hotline.domain.ids import NationCode
from hotline.errors import BadSignature, Invalid
from hotline.ledger.merkle import verify_consistency

_TAG = b"hotline.tree-head.v1\x00"
_ROOT_RE = re.compile(r"[0-9a-f]{64}")
_B64URL_RE = re.compile(r"[A-Za-z0-9_-]*")
_SIZE_MAX = (1 << 63) - 1  # msgspec bounds must fit an int64


class TreeHead(msgspec.Struct, frozen=True, kw_only=True):
    """A (possibly unsigned) tree head.

    ``nation``: the log's owner, ISO 3166 alpha-3 (``USA``). ``size``: leaves in the log.
    ``root``: the RFC 9162 root, 64 lower-case hex digits. ``at``: when the head was made, float
    seconds since the Unix epoch (UTC). ``sig``: Ed25519 signature over ``head_signing_bytes``,
    unpadded base64url; empty until ``sign_head``.
    """

    nation: Annotated[NationCode, msgspec.Meta(pattern="^[A-Z]{3}$")]
    size: Annotated[int, msgspec.Meta(ge=0, le=_SIZE_MAX)]
    root: Annotated[str, msgspec.Meta(pattern="^[0-9a-f]{64}$")]
    at: float
    sig: Annotated[str, msgspec.Meta(pattern="^[A-Za-z0-9_-]*$")] = ""


def head_signing_bytes(head: TreeHead) -> bytes:
    """Return the exact bytes that are signed for ``head`` (everything except ``sig``).

    ``TAG || u64(len(nation)) || nation || u64(size) || root (32 raw bytes) || f64(at)``, all
    big-endian. Raises ``Invalid`` if a field is out of range (a Struct built in code is not
    validated by msgspec, so this is checked here too).
    """
    where = f"tree head {head.nation!r}@{head.size}"
    if not 0 <= head.size <= _SIZE_MAX:
        raise Invalid(f"{where}: size must be in 0..2**63-1")
    if _ROOT_RE.fullmatch(head.root) is None:
        raise Invalid(f"{where}: root {head.root!r} is not 64 lower-case hex digits")
    if not math.isfinite(head.at):
        raise Invalid(f"{where}: at={head.at!r} is not a finite epoch time")
    nation = head.nation.encode()
    return b"".join(
        (
            _TAG,
            struct.pack(">Q", len(nation)),
            nation,
            struct.pack(">Q", head.size),
            bytes.fromhex(head.root),
            struct.pack(">d", head.at),
        )
    )


def sign_head(head: TreeHead, sign: Callable[[bytes], bytes]) -> TreeHead:
    """Return ``head`` with ``sig`` set to ``sign(head_signing_bytes(head))``, base64url.

    ``sign`` is the node's signing primitive (e.g. ``Ed25519PrivateKey.sign``).
    Raises ``Invalid`` if the head is malformed.
    """
    signature = sign(head_signing_bytes(head))
    return msgspec.structs.replace(head, sig=_b64url_encode(signature))


def verify_head(head: TreeHead, verify: Callable[[bytes, bytes], None]) -> None:
    """Check ``head.sig`` with ``verify(signature, message)``; return None if it holds.

    ``verify`` is the peer's verification primitive and must raise on a bad signature (as
    ``Ed25519PublicKey.verify`` does). Raises ``BadSignature`` if the head is unsigned, the
    signature is not canonical base64url, or ``verify`` raises (the original error is chained);
    ``Invalid`` if the head is malformed.
    """
    message = head_signing_bytes(head)
    where = f"tree head {head.nation}@{head.size}"
    if not head.sig:
        raise BadSignature(f"{where} is unsigned; a signed head is required")
    signature = _b64url_decode(head.sig)
    if signature is None:
        raise BadSignature(f"{where}: sig is not canonical unpadded base64url")
    try:
        verify(signature, message)
    except Exception as exc:  # the primitive's own error type is not ours to know
        raise BadSignature(f"{where}: signature does not verify for {head.nation}") from exc


def check_consistent(old: TreeHead, new: TreeHead, proof: Sequence[bytes]) -> bool:
    """True if ``new`` extends ``old``: same nation and ``proof`` shows old is a prefix of new.

    False means a rewritten or forked history (or a bad proof): a head that shrinks, two heads
    of one size with different roots, or a proof that does not check. Signatures are not
    checked here; call ``verify_head`` on both heads first.
    """
    if old.nation != new.nation:
        return False
    old_root, new_root = _root_bytes(old.root), _root_bytes(new.root)
    if old_root is None or new_root is None:
        return False
    return verify_consistency(old.size, new.size, old_root, new_root, proof)


def _root_bytes(root_hex: str) -> bytes | None:
    return bytes.fromhex(root_hex) if _ROOT_RE.fullmatch(root_hex) else None


def _b64url_encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes | None:
    """Decode unpadded base64url; None unless ``text`` is its one canonical encoding."""
    if _B64URL_RE.fullmatch(text) is None or len(text) % 4 == 1:
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    return raw if _b64url_encode(raw) == text else None
