"""A node's Ed25519 event-signing key: generate, store, sign envelopes, verify them.

The node where an event starts signs its envelope (``domain.events.signing_bytes``); every
receiver verifies it against the origin's public key pinned in the compact before applying it.
Public keys travel as the raw 32 bytes in base64url without padding (43 characters), and
signatures as the raw 64 bytes in base64url without padding (86 characters).

Key files are PEM PKCS#8, unencrypted, mode 0600: protect them with the file system.

Keys are ``cryptography`` objects (files, PEM, the compact's pins); the two hot operations,
signing and verifying, run in libsodium (PyNaCl, the same PyCA project): Ed25519 is
deterministic (RFC 8032), so the signatures are byte for byte the ones OpenSSL makes, at 0.64
of its signing time and 0.48 of its verifying time here (docs/performance.md). libsodium's
verification is the stricter of the two (it also refuses small-order keys and points and
non-canonical encodings, none of which an honest signer produces).
"""

from __future__ import annotations

import base64
import binascii
import functools
import os
import re
import tempfile
from pathlib import Path

import msgspec
import nacl.bindings
import nacl.exceptions
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from hotline.domain.events import Envelope, signing_bytes
from hotline.domain.ids import NationCode
from hotline.errors import BadSignature, ConfigError, WrongOrigin

__all__ = [
    "Signer",
    "b64url_decode",
    "b64url_encode",
    "generate_signing_key",
    "load_public_key",
    "load_signing_key",
    "public_key_b64",
    "save_signing_key",
    "verify_envelope",
    "verify_signature",
    "write_key_file",
]

_PUBLIC_KEY_LEN = 32
_SIGNATURE_LEN = 64
_B64URL = re.compile(r"[A-Za-z0-9_-]*")


# -- base64url, no padding, canonical -------------------------------------------------------


def b64url_encode(data: bytes) -> str:
    """Base64url without ``=`` padding (RFC 4648 §5)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Strict inverse of :func:`b64url_encode`.

    Refuses padding, the ``+/`` alphabet, whitespace and non-canonical trailing bits, so one
    byte string has exactly one text form (a signature cannot be re-spelled and still verify).
    Raises ``ValueError``.
    """
    if not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("not unpadded base64url")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error as exc:  # pragma: no cover - the regex already rules this out
        raise ValueError("not unpadded base64url") from exc
    if b64url_encode(data) != text:
        raise ValueError("non-canonical base64url")
    return data


# -- key files --------------------------------------------------------------------------------


def write_key_file(path: Path, data: bytes) -> None:
    """Write secret ``data`` to ``path`` atomically, mode 0600 from the first byte.

    The parent directory is created (0700) if missing. Raises ``ConfigError`` on OS errors.
    """
    path = Path(path)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # mkstemp creates the file 0600, so the secret is never readable by others.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise ConfigError(f"cannot write key file {path}: {exc.strerror or exc}") from exc


def generate_signing_key() -> Ed25519PrivateKey:
    """A fresh Ed25519 key for signing a node's events."""
    return Ed25519PrivateKey.generate()


def save_signing_key(key: Ed25519PrivateKey, path: Path) -> None:
    """Store ``key`` as PEM PKCS#8 (unencrypted) at ``path``, mode 0600. Raises ``ConfigError``."""
    pem = key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )
    write_key_file(Path(path), pem)


def load_signing_key(path: Path) -> Ed25519PrivateKey:
    """Read the Ed25519 key that :func:`save_signing_key` wrote.

    Raises ``ConfigError`` naming ``path`` if the file is missing, unreadable, not PEM, or not
    an unencrypted Ed25519 private key.
    """
    path = Path(path)
    try:
        pem = path.read_bytes()
    except FileNotFoundError as exc:
        raise ConfigError(
            f"signing key file {path} does not exist (create it with 'hotline node init')"
        ) from exc
    except OSError as exc:
        raise ConfigError(f"cannot read signing key file {path}: {exc.strerror or exc}") from exc
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ConfigError(
            f"signing key file {path} is not an unencrypted PEM PKCS#8 private key"
        ) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(
            f"signing key file {path} holds a {type(key).__name__}; expected an Ed25519 key"
        )
    return key


# -- public keys ------------------------------------------------------------------------------


def public_key_b64(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """The raw 32-byte public key as base64url without padding: what the compact pins."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = public.public_bytes(
        encoding=serialization.Encoding.Raw, format=serialization.PublicFormat.Raw
    )
    return b64url_encode(raw)


@functools.lru_cache(maxsize=1024)
def load_public_key(b64: str) -> Ed25519PublicKey:
    """Parse a pinned public key (:func:`public_key_b64` form); cached, so call it freely.

    Raises ``ConfigError`` if ``b64`` is not 32 bytes of unpadded base64url.
    """
    shown = b64 if len(b64) <= 60 else b64[:57] + "..."
    try:
        raw = b64url_decode(b64)
    except ValueError as exc:
        raise ConfigError(
            f"signing key {shown!r} is not unpadded base64url of a 32-byte Ed25519 public key"
        ) from exc
    if len(raw) != _PUBLIC_KEY_LEN:
        raise ConfigError(
            f"signing key {shown!r} decodes to {len(raw)} bytes; an Ed25519 public key is 32"
        )
    if not nacl.bindings.crypto_core_ed25519_is_valid_point(raw):
        # A small-order point (or one off the curve, or a non-canonical encoding) would pin a
        # key no honest node has; with some verifiers a forged signature passes under it.
        raise ConfigError(
            f"signing key {shown!r} is not a usable Ed25519 public key (a small-order point,"
            " not on the curve, or not canonically encoded)"
        )
    return Ed25519PublicKey.from_public_bytes(raw)


@functools.lru_cache(maxsize=1024)
def _raw_public_of_b64(b64: str) -> bytes:
    return _raw_public(load_public_key(b64))


#: Raw bytes of the key objects seen (pinned peers' keys are long-lived objects; the objects
#: are unhashable, so by identity, the object kept beside its bytes so the id is not reused).
_RAW_OF: dict[int, tuple[Ed25519PublicKey, bytes]] = {}


def _raw_public(key: Ed25519PublicKey) -> bytes:
    known = _RAW_OF.get(id(key))
    if known is not None and known[0] is key:
        return known[1]
    raw = key.public_bytes(
        encoding=serialization.Encoding.Raw, format=serialization.PublicFormat.Raw
    )
    if len(_RAW_OF) >= 1024:
        _RAW_OF.clear()
    _RAW_OF[id(key)] = (key, raw)
    return raw


def _raw_public_key(public_key: Ed25519PublicKey | str) -> bytes:
    """The 32 raw bytes of a pinned key given as its object or base64url text."""
    if isinstance(public_key, str):
        return _raw_public_of_b64(public_key)
    return _raw_public(public_key)


def _verifies(raw_public: bytes, sig: bytes, data: bytes) -> bool:
    """Ed25519 verification of the 64-byte ``sig`` over ``data`` (libsodium)."""
    try:
        nacl.bindings.crypto_sign_open(sig + data, raw_public)
    except nacl.exceptions.BadSignatureError:
        return False
    return True


# -- envelopes --------------------------------------------------------------------------------


class Signer:
    """Signs the envelopes that ``nation``'s node originates.

    Holds libsodium's expanded secret key, so signing costs one Ed25519 operation (~20 µs)
    plus the canonical encoding.
    """

    __slots__ = ("_key", "_secret", "nation", "public_key", "public_key_b64")

    def __init__(self, nation: str, key: Ed25519PrivateKey) -> None:
        # ``str`` (not NationCode) to match the mutable ``nation: str`` of ``ports.Signer``.
        self.nation: str = NationCode(nation)
        self._key = key
        seed = key.private_bytes(
            encoding=serialization.Encoding.Raw,
            format=serialization.PrivateFormat.Raw,
            encryption_algorithm=serialization.NoEncryption(),
        )
        # libsodium's secret key: the seed followed by the public key (64 bytes).
        self._secret: bytes = nacl.bindings.crypto_sign_seed_keypair(seed)[1]
        self.public_key: Ed25519PublicKey = key.public_key()
        self.public_key_b64: str = public_key_b64(self.public_key)

    @classmethod
    def from_file(cls, nation: str, path: Path) -> Signer:
        """A signer for ``nation`` with the key at ``path`` (``ConfigError`` if unusable)."""
        return cls(nation, load_signing_key(path))

    def sign(self, data: bytes) -> str:
        """Sign arbitrary bytes (a tree head, say): base64url signature without padding."""
        return b64url_encode(nacl.bindings.crypto_sign(data, self._secret)[:_SIGNATURE_LEN])

    def sign_envelope(self, env: Envelope) -> Envelope:
        """A copy of ``env`` with ``sig`` set over ``signing_bytes(env)``.

        Raises ``WrongOrigin`` if ``env.origin`` is not this signer's nation: a node signs only
        the events it originates.
        """
        if env.origin != self.nation:
            raise WrongOrigin(
                f"event {env.id} has origin {env.origin}; the {self.nation} node signs only"
                f" its own events"
            )
        return msgspec.structs.replace(env, sig=self.sign(signing_bytes(env)))

    def __repr__(self) -> str:
        return f"Signer(nation={self.nation!r}, public_key={self.public_key_b64!r})"


def verify_signature(public_key: Ed25519PublicKey | str, sig: str, data: bytes) -> bool:
    """True if ``sig`` (unpadded base64url) is ``public_key``'s signature over ``data``.

    ``public_key`` may be the object or its pinned base64url text (``ConfigError`` if bad).
    """
    key = _raw_public_key(public_key)
    try:
        raw = b64url_decode(sig)
    except ValueError:
        return False
    if len(raw) != _SIGNATURE_LEN:
        return False
    return _verifies(key, raw, data)


def verify_envelope(env: Envelope, public_key: Ed25519PublicKey | str) -> None:
    """Check that ``env.sig`` is the origin's signature over ``signing_bytes(env)``.

    ``public_key`` is the origin's pinned key (object or base64url text). Raises
    ``BadSignature`` naming the event id and origin if the envelope is unsigned, the signature
    is malformed, or it does not verify (a changed field, another key).
    """
    where = f"event {env.id} from {env.origin}"
    if not env.sig:
        raise BadSignature(f"{where} is unsigned; expected an Ed25519 signature by {env.origin}")
    try:
        raw = b64url_decode(env.sig)
    except ValueError:
        raise BadSignature(
            f"{where}: signature is not unpadded base64url ({len(env.sig)} characters)"
        ) from None
    if len(raw) != _SIGNATURE_LEN:
        raise BadSignature(
            f"{where}: signature is {len(raw)} bytes; an Ed25519 signature is {_SIGNATURE_LEN}"
        )
    if not _verifies(_raw_public_key(public_key), raw, signing_bytes(env)):
        raise BadSignature(
            f"{where}: signature does not verify against {env.origin}'s pinned key"
            " (altered event or wrong key)"
        ) from None
