"""Ed25519 envelope signing: round trips, tampering, wrong keys, garbage, key files."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.domain.events import (
    Envelope,
    EventBody,
    LinkTestSent,
    MessageAcknowledged,
    MessageEscalated,
    MessageSent,
    decode_envelope,
    encode_envelope,
)
from hotline.domain.ids import (
    ChannelId,
    Classification,
    EventId,
    Handle,
    MessageId,
    NationCode,
    Precedence,
)
from hotline.errors import BadSignature, ConfigError, WrongOrigin
from hotline.signing import (
    Signer,
    b64url_decode,
    b64url_encode,
    generate_signing_key,
    load_public_key,
    load_signing_key,
    public_key_b64,
    save_signing_key,
    verify_envelope,
    verify_signature,
)

USA = NationCode("USA")
JPN = NationCode("JPN")
KEY = generate_signing_key()
SIGNER = Signer("USA", KEY)


def _message(body: str = "launch detected", origin: NationCode = USA) -> Envelope:
    return Envelope(
        id=EventId("e-1"),
        origin=origin,
        at=1_700_000_000.0,
        rel_to=(USA, JPN),
        body=MessageSent(
            message_id=MessageId("m-1"),
            channel=ChannelId("leaders.usa-jpn"),
            sender=Handle("usa.leaders"),
            nation=origin,
            precedence=Precedence.FLASH,
            classification=Classification.SECRET,
            rel_to=(USA, JPN),
            body=body,
            sent_at=1_700_000_000.0,
        ),
    )


# -- round trip -------------------------------------------------------------------------------


def test_sign_then_verify_round_trip() -> None:
    env = SIGNER.sign_envelope(_message())
    assert len(env.sig) == 86
    verify_envelope(env, KEY.public_key())
    verify_envelope(env, public_key_b64(KEY))  # the pinned text form works too
    verify_envelope(decode_envelope(encode_envelope(env)), SIGNER.public_key_b64)


def test_signing_leaves_the_rest_of_the_envelope_alone() -> None:
    env = _message()
    signed = SIGNER.sign_envelope(env)
    assert msgspec.structs.replace(signed, sig="") == env
    assert env.sig == ""  # the input is untouched (frozen copy)


def test_signer_refuses_an_event_of_another_origin() -> None:
    with pytest.raises(WrongOrigin, match="e-1 has origin JPN"):
        SIGNER.sign_envelope(_message(origin=JPN))


def test_sign_bytes_for_tree_heads() -> None:
    sig = SIGNER.sign(b"tree head")
    assert verify_signature(SIGNER.public_key_b64, sig, b"tree head")
    assert not verify_signature(SIGNER.public_key, sig, b"tree head!")
    assert not verify_signature(SIGNER.public_key, "!!", b"tree head")
    assert not verify_signature(SIGNER.public_key, b64url_encode(b"x" * 63), b"tree head")


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=2048))
def test_signatures_are_byte_identical_to_openssl_ed25519(data: bytes) -> None:
    """libsodium signs; a peer or tool on OpenSSL (``cryptography``) gets the same bytes and
    verifies them, and an OpenSSL-made signature verifies here (RFC 8032 is deterministic)."""
    ours = SIGNER.sign(data)
    assert b64url_decode(ours) == KEY.sign(data)
    KEY.public_key().verify(b64url_decode(ours), data)  # raises if not
    assert verify_signature(SIGNER.public_key, b64url_encode(KEY.sign(data)), data)


def test_key_objects_are_told_apart_however_often_they_are_used() -> None:
    """The raw bytes of key objects are remembered by identity: many objects, each its own."""
    env = SIGNER.sign_envelope(_message())
    others = [Ed25519PrivateKey.generate().public_key() for _ in range(50)]
    for _ in range(3):
        verify_envelope(env, SIGNER.public_key)
        for other in others:
            with pytest.raises(BadSignature):
                verify_envelope(env, other)
    fresh = load_public_key.__wrapped__(SIGNER.public_key_b64)  # a new object, same key
    verify_envelope(env, fresh)


def test_a_small_order_public_key_verifies_nothing() -> None:
    """The identity point as a "public key" with R = identity, S = 0 satisfies the equation
    for any message: OpenSSL accepts it, libsodium refuses small-order keys."""
    identity = b"\x01" + b"\x00" * 31
    forged = identity + b"\x00" * 32
    key = ed25519.Ed25519PublicKey.from_public_bytes(identity)  # an object skips the pin check
    assert not verify_signature(key, b64url_encode(forged), b"any message")
    # and as a pin (text), it is refused outright:
    with pytest.raises(ConfigError, match="small-order"):
        verify_signature(b64url_encode(identity), b64url_encode(forged), b"any message")


# -- refusals ---------------------------------------------------------------------------------


def test_tampered_body_is_refused() -> None:
    env = SIGNER.sign_envelope(_message())
    body = msgspec.structs.replace(env.body, body="all clear")
    forged = msgspec.structs.replace(env, body=body)
    with pytest.raises(BadSignature, match=r"event e-1 from USA: signature does not verify"):
        verify_envelope(forged, KEY.public_key())


@pytest.mark.parametrize(
    "field, value",
    [("id", "e-2"), ("origin", "JPN"), ("at", 1.0), ("rel_to", ("USA", "JPN", "KOR"))],
)
def test_tampered_envelope_field_is_refused(field: str, value: object) -> None:
    env = SIGNER.sign_envelope(_message())
    forged = msgspec.structs.replace(env, **{field: value})
    with pytest.raises(BadSignature) as info:
        verify_envelope(forged, KEY.public_key())
    assert info.value.code == "bad_signature"
    assert f"event {forged.id} from {forged.origin}" in str(info.value)


def test_wrong_key_is_refused() -> None:
    env = SIGNER.sign_envelope(_message())
    other = Ed25519PrivateKey.generate().public_key()
    with pytest.raises(BadSignature, match="does not verify against USA's pinned key"):
        verify_envelope(env, other)


@pytest.mark.parametrize(
    "sig, reason",
    [
        ("", "is unsigned"),
        ("not base64!", "not unpadded base64url"),
        ("A" * 86 + "==", "not unpadded base64url"),  # padding is refused
        ("A" * 85 + "B", "not unpadded base64url"),  # non-canonical trailing bits
        (b64url_encode(b"\x00" * 32), "is 32 bytes"),
        (b64url_encode(b"\x00" * 64), "does not verify"),
    ],
)
def test_garbage_signature_is_refused(sig: str, reason: str) -> None:
    env = msgspec.structs.replace(SIGNER.sign_envelope(_message()), sig=sig)
    with pytest.raises(BadSignature, match=reason):
        verify_envelope(env, KEY.public_key())


def test_respelled_signature_is_refused() -> None:
    env = SIGNER.sign_envelope(_message())
    # Standard-alphabet or padded spellings of the same bytes are not the canonical form.
    for variant in (env.sig + "==", env.sig.replace("-", "+").replace("_", "/")):
        if variant == env.sig:
            continue
        with pytest.raises(BadSignature):
            verify_envelope(msgspec.structs.replace(env, sig=variant), KEY.public_key())


# -- keys -------------------------------------------------------------------------------------


def test_key_file_round_trip_is_0600(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "signing.key"
    save_signing_key(KEY, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    loaded = load_signing_key(path)
    assert public_key_b64(loaded) == public_key_b64(KEY)
    save_signing_key(generate_signing_key(), path)  # overwrite keeps 0600
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Signer.from_file("USA", path).public_key_b64 != public_key_b64(KEY)


def test_missing_key_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "nope.key"
    with pytest.raises(ConfigError, match=re.escape(f"{path} does not exist")):
        load_signing_key(path)


@pytest.mark.parametrize(
    "content", [b"", b"garbage", b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"]
)
def test_bad_key_file_names_the_path(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.key"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=re.escape(f"{path} is not an unencrypted PEM")):
        load_signing_key(path)


def test_non_ed25519_key_file_is_refused(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    path = tmp_path / "ec.key"
    path.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(ConfigError, match="expected an Ed25519 key"):
        load_signing_key(path)


def test_public_key_text_round_trip_and_cache() -> None:
    text = public_key_b64(KEY)
    assert len(text) == 43 and "=" not in text
    assert b64url_decode(text) == b64url_decode(public_key_b64(KEY.public_key()))
    assert load_public_key(text) is load_public_key(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "garbage!",
        "A" * 42,
        b64url_encode(b"\x01" * 31),
        "A" * 44,
        b64url_encode(b"\x01" + b"\x00" * 31),  # the identity: small order
        b64url_encode(b"\x00" * 32),  # a point of order 4
        b64url_encode(b"\xff" * 32),  # not canonically encoded
    ],
)
def test_garbage_public_key_is_a_config_error(text: str) -> None:
    with pytest.raises(ConfigError, match="signing key"):
        load_public_key(text)


# -- property: any envelope round-trips through the wire and still verifies -------------------

_nations = st.sampled_from([NationCode(n) for n in ("USA", "JPN", "KOR", "GBR", "FRA")])
_times = st.floats(allow_nan=False, allow_infinity=False)
_text = st.text(max_size=200)
_handles = st.from_regex(r"[a-z]{3}\.[a-z]{2,8}(\.[0-9])?", fullmatch=True).map(Handle)
_bodies: st.SearchStrategy[EventBody] = st.one_of(
    st.builds(
        MessageSent,
        message_id=_text.map(MessageId),
        channel=_text.map(ChannelId),
        sender=_handles,
        nation=_nations,
        precedence=st.sampled_from(Precedence),
        classification=st.sampled_from(Classification),
        rel_to=st.tuples(_nations, _nations),
        body=_text,
        sent_at=_times,
        template=st.none() | _text,
    ),
    st.builds(
        MessageAcknowledged,
        message_id=_text.map(MessageId),
        nation=_nations,
        by=_handles,
        at=_times,
    ),
    st.builds(
        MessageEscalated,
        message_id=_text.map(MessageId),
        nation=_nations,
        level=st.integers(0, 50),
        notified=st.lists(_handles, max_size=4).map(tuple),
        at=_times,
        next_at=_times,
    ),
    st.builds(LinkTestSent, test_id=_text, to=_nations, at=_times),
)
_envelopes = st.builds(
    Envelope,
    id=_text.map(EventId),
    origin=st.just(USA),
    at=_times,
    rel_to=st.lists(_nations, max_size=5).map(tuple),
    body=_bodies,
)


@settings(max_examples=200, deadline=None)
@given(env=_envelopes)
def test_any_envelope_round_trips_encode_decode_verify(env: Envelope) -> None:
    signed = SIGNER.sign_envelope(env)
    received = decode_envelope(encode_envelope(signed))
    assert received == signed
    verify_envelope(received, SIGNER.public_key_b64)


@settings(max_examples=100, deadline=None)
@given(env=_envelopes, at=_times)
def test_any_change_of_time_breaks_the_signature(env: Envelope, at: float) -> None:
    signed = SIGNER.sign_envelope(env)
    forged = msgspec.structs.replace(signed, at=at)
    if encode_envelope(forged) == encode_envelope(signed):
        return  # the same time: nothing was changed
    with pytest.raises(BadSignature):
        verify_envelope(forged, SIGNER.public_key)
