"""National CAs, node certificates and mutual TLS 1.3 over a real websockets link on 127.0.0.1."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import ssl
import stat
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosedError, InvalidMessage

from hotline.errors import ConfigError, FederationError
from hotline.pki import (
    NATION_URI_PREFIX,
    CaFiles,
    UnknownPeer,
    build_node_certificate,
    client_context,
    create_ca,
    fingerprint,
    init_pki,
    issue_node_cert,
    load_certificate,
    load_pinned_cas,
    nation_from_cert,
    normalize_fingerprint,
    peer_certificate_der,
    server_context,
    verify_pinned,
)

NATIONS = ("USA", "JPN", "KOR")


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, bool]]:
    # Debug mode makes asyncio report a failed server-side TLS handshake to the loop's
    # exception handler (asyncio/selector_events.py); the tests read the reason from there.
    return ("asyncio", {"debug": True})


@dataclass(frozen=True)
class Coalition:
    root: Path
    paths: dict[str, dict[str, Path]]  # nation -> init_pki paths
    pins: dict[str, str]  # nation -> CA fingerprint, as the compact pins them
    cas: dict[str, x509.Certificate]

    @property
    def trusted(self) -> list[Path]:
        return [self.paths[n]["ca_cert"] for n in NATIONS]

    def server(self, nation: str = "USA") -> ssl.SSLContext:
        p = self.paths[nation]
        return server_context(p["node_cert"], p["node_key"], self.trusted)

    def client(self, nation: str = "JPN") -> ssl.SSLContext:
        p = self.paths[nation]
        return client_context(p["node_cert"], p["node_key"], self.trusted)


@pytest.fixture(scope="module")
def coalition(tmp_path_factory: pytest.TempPathFactory) -> Coalition:
    root = tmp_path_factory.mktemp("pki")
    paths = {n: init_pki(root / n.lower(), n) for n in NATIONS}
    pins = {n: fingerprint(paths[n]["ca_cert"]) for n in NATIONS}
    cas = load_pinned_cas([paths[n]["ca_cert"] for n in NATIONS], pins)
    return Coalition(root=root, paths=paths, pins=pins, cas=cas)


def _der(path: Path) -> bytes:
    return load_certificate(path).public_bytes(serialization.Encoding.DER)


def _forge(root: Path, issuer_nation: str, claimed: str, coalition: Coalition) -> Path:
    """A node cert from ``issuer_nation``'s real, pinned CA that claims to be ``claimed``."""
    issuer_dir = coalition.paths[issuer_nation]["ca_key"].parent
    ca_key = serialization.load_pem_private_key((issuer_dir / "ca.key").read_bytes(), None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    node_key = ec.generate_private_key(ec.SECP256R1())
    cert = build_node_certificate(
        coalition.cas[issuer_nation], ca_key, claimed, node_key.public_key()
    )
    out = root / f"forged-{issuer_nation}-as-{claimed}"
    out.mkdir(exist_ok=True)
    (out / "node.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (out / "node.key").write_bytes(
        node_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return out


# -- a federation server on 127.0.0.1 ---------------------------------------------------------


@dataclass
class Link:
    port: int
    seen: list[str]  # nations the handler accepted
    loop_errors: list[BaseException]  # TLS failures of incoming connections

    @property
    def uri(self) -> str:
        return f"wss://127.0.0.1:{self.port}"

    async def wait_loop_error(self) -> BaseException:
        with anyio.fail_after(5):
            while not self.loop_errors:
                await anyio.sleep(0.01)
        return self.loop_errors[0]


@asynccontextmanager
async def federation_server(ctx: ssl.SSLContext, coalition: Coalition) -> AsyncIterator[Link]:
    """A websockets server that binds each connection to the nation its certificate proves."""
    loop = asyncio.get_running_loop()
    link = Link(port=0, seen=[], loop_errors=[])

    def on_loop_error(_: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if isinstance(exc, BaseException):
            link.loop_errors.append(exc)
        else:  # pragma: no cover - anything else is a real problem
            loop.default_exception_handler(context)

    async def handler(ws: ServerConnection) -> None:
        claimed = nation_from_cert(ws.transport.get_extra_info("peercert"))
        ssl_object = ws.transport.get_extra_info("ssl_object")
        try:
            nation = verify_pinned(
                peer_certificate_der(ssl_object), None, coalition.pins, coalition.cas
            )
        except UnknownPeer as exc:
            await ws.close(1008, exc.code)
            return
        assert nation == claimed
        link.seen.append(nation)
        await ws.send(f"{nation} {ssl_object.version()}")

    previous = loop.get_exception_handler()
    loop.set_exception_handler(on_loop_error)
    try:
        async with serve(handler, "127.0.0.1", 0, ssl=ctx) as server:
            link.port = next(iter(server.sockets)).getsockname()[1]
            yield link
    finally:
        loop.set_exception_handler(previous)


# -- (a) mutual TLS 1.3 and the peer's nation from its certificate ----------------------------


@pytest.mark.anyio
async def test_mutual_tls13_and_server_reads_client_nation(coalition: Coalition) -> None:
    async with federation_server(coalition.server("USA"), coalition) as link:
        async with connect(link.uri, ssl=coalition.client("JPN"), open_timeout=5) as ws:
            assert await ws.recv() == "JPN TLSv1.3"
            # The client checks it reached the nation it dialled, through USA's pinned CA.
            server_der = peer_certificate_der(ws.transport.get_extra_info("ssl_object"))
            assert verify_pinned(server_der, "USA", coalition.pins, coalition.cas) == "USA"
            with pytest.raises(UnknownPeer, match="names USA; expected the KOR node"):
                verify_pinned(server_der, "KOR", coalition.pins, coalition.cas)
        async with connect(link.uri, ssl=coalition.client("KOR"), open_timeout=5) as ws:
            assert await ws.recv() == "KOR TLSv1.3"
    assert link.seen == ["JPN", "KOR"]
    assert link.loop_errors == []


# -- (b) no client certificate ----------------------------------------------------------------


@pytest.mark.anyio
async def test_client_without_certificate_is_refused(coalition: Coalition) -> None:
    bare = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=None)
    for ca in coalition.trusted:
        bare.load_verify_locations(cafile=ca)
    async with federation_server(coalition.server(), coalition) as link:
        # TLS 1.3: the client finishes its half of the handshake before the server rejects
        # it, so the client sees the refusal as a closed connection on its first read.
        with pytest.raises((InvalidMessage, OSError)):
            async with connect(link.uri, ssl=bare, open_timeout=5) as ws:
                await ws.recv()
        error = await link.wait_loop_error()
    assert isinstance(error, ssl.SSLError)
    assert "PEER_DID_NOT_RETURN_A_CERTIFICATE" in str(error)
    assert link.seen == []


# -- (c) a certificate from an unknown CA -----------------------------------------------------


@pytest.mark.anyio
async def test_client_from_unknown_ca_is_refused(coalition: Coalition, tmp_path: Path) -> None:
    # An impostor CA with the very same name as USA's real CA, issuing a "USA" node cert.
    rogue = init_pki(tmp_path / "rogue", "USA")
    rogue_ctx = client_context(rogue["node_cert"], rogue["node_key"], coalition.trusted)
    assert fingerprint(rogue["ca_cert"]) != coalition.pins["USA"]
    async with federation_server(coalition.server("JPN"), coalition) as link:
        with pytest.raises((InvalidMessage, OSError)):
            async with connect(link.uri, ssl=rogue_ctx, open_timeout=5) as ws:
                await ws.recv()
        error = await link.wait_loop_error()
    assert isinstance(error, ssl.SSLCertVerificationError)
    assert link.seen == []
    with pytest.raises(UnknownPeer, match="does not chain to USA's pinned CA"):
        verify_pinned(_der(rogue["node_cert"]), "USA", coalition.pins, coalition.cas)


@pytest.mark.anyio
async def test_server_from_unknown_ca_is_refused_by_client(
    coalition: Coalition, tmp_path: Path
) -> None:
    rogue = init_pki(tmp_path / "rogue", "USA")
    rogue_server = server_context(rogue["node_cert"], rogue["node_key"], coalition.trusted)
    async with federation_server(rogue_server, coalition) as link:
        with pytest.raises(ssl.SSLCertVerificationError):
            async with connect(link.uri, ssl=coalition.client("JPN"), open_timeout=5):
                pass  # pragma: no cover
        await link.wait_loop_error()  # the server side sees the aborted handshake
    assert link.seen == []


# -- (d) a pinned CA vouching for another nation ----------------------------------------------


@pytest.mark.anyio
async def test_certificate_claiming_another_nation_is_refused(
    coalition: Coalition, tmp_path: Path
) -> None:
    forged = _forge(tmp_path, "JPN", "KOR", coalition)
    forged_ctx = client_context(forged / "node.crt", forged / "node.key", coalition.trusted)
    # TLS alone accepts it (JPN's CA is trusted); the per-nation pin is what refuses it.
    async with (
        federation_server(coalition.server("USA"), coalition) as link,
        connect(link.uri, ssl=forged_ctx, open_timeout=5) as ws,
    ):
        with pytest.raises(ConnectionClosedError) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1008, "unknown_peer")
    assert link.seen == []
    der = _der(forged / "node.crt")
    assert nation_from_cert(der) == "KOR"  # the claim ...
    with pytest.raises(UnknownPeer, match=r"claiming KOR .* does not chain to KOR's pinned CA"):
        verify_pinned(der, None, coalition.pins, coalition.cas)  # ... is not an identity
    with pytest.raises(UnknownPeer, match="names KOR; expected the JPN node"):
        verify_pinned(der, "JPN", coalition.pins, coalition.cas)


def test_verify_pinned_refuses_unpinned_nations_and_mismatched_cas(coalition: Coalition) -> None:
    der = _der(coalition.paths["KOR"]["node_cert"])
    assert verify_pinned(der, "kor", coalition.pins, coalition.cas) == "KOR"
    pins = {n: fp for n, fp in coalition.pins.items() if n != "KOR"}
    with pytest.raises(UnknownPeer, match="no CA is pinned for KOR") as info:
        verify_pinned(der, None, pins, coalition.cas)
    assert info.value.code == "unknown_peer" and isinstance(info.value, FederationError)
    swapped = {**coalition.cas, "KOR": coalition.cas["JPN"]}
    with pytest.raises(UnknownPeer, match="does not match its pin"):
        verify_pinned(der, None, coalition.pins, swapped)
    with pytest.raises(UnknownPeer, match="not DER"):
        verify_pinned(b"garbage", None, coalition.pins, coalition.cas)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=800)
    with pytest.raises(UnknownPeer, match="does not chain"):
        verify_pinned(der, None, coalition.pins, coalition.cas, now=later)  # expired


# -- (e) TLS 1.2 ------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_tls12_client_is_refused(coalition: Coalition) -> None:
    old = coalition.client("JPN")
    old.minimum_version = old.maximum_version = ssl.TLSVersion.TLSv1_2
    async with federation_server(coalition.server("USA"), coalition) as link:
        with pytest.raises(OSError):  # ssl.SSLError or a reset, depending on timing
            async with connect(link.uri, ssl=old, open_timeout=5):
                pass  # pragma: no cover
        error = await link.wait_loop_error()
    assert isinstance(error, ssl.SSLError)
    assert "UNSUPPORTED_PROTOCOL" in str(error)
    assert link.seen == []


@pytest.mark.anyio
async def test_tls12_server_is_refused_by_client(coalition: Coalition) -> None:
    old = coalition.server("USA")
    old.minimum_version = old.maximum_version = ssl.TLSVersion.TLSv1_2
    async with federation_server(old, coalition) as link:
        with pytest.raises(OSError):  # ssl.SSLError or a reset, depending on timing
            async with connect(link.uri, ssl=coalition.client("JPN"), open_timeout=5):
                pass  # pragma: no cover
        error = await link.wait_loop_error()
    assert "UNSUPPORTED_PROTOCOL" in str(error)
    assert link.seen == []


# -- the files themselves ---------------------------------------------------------------------


def test_ca_certificate_profile(coalition: Coalition) -> None:
    p = coalition.paths["USA"]
    ca = load_certificate(p["ca_cert"])
    assert ca.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == (
        "hotline USA national CA"
    )
    bc = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca
    assert ca.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    years = (ca.not_valid_after_utc - ca.not_valid_before_utc).days / 365.25
    assert 9.9 < years < 10.1
    assert stat.S_IMODE(p["ca_key"].stat().st_mode) == 0o600
    assert nation_from_cert(ca) == "USA"


def test_node_certificate_profile(coalition: Coalition) -> None:
    p = coalition.paths["KOR"]
    cert = load_certificate(p["node_cert"])
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "KOR"
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "hotline"
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == [NATION_URI_PREFIX + "KOR"]
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(eku) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    days = (cert.not_valid_after_utc - cert.not_valid_before_utc).days
    assert 730 <= days <= 732
    assert stat.S_IMODE(p["node_key"].stat().st_mode) == 0o600


def test_fingerprint_accepts_every_form(coalition: Coalition) -> None:
    path = coalition.paths["USA"]["ca_cert"]
    fp = fingerprint(path)
    assert len(fp) == 64 and fp == fp.lower()
    cert = load_certificate(path)
    pem = path.read_text()
    assert {fingerprint(str(path)), fingerprint(pem), fingerprint(pem.encode())} == {fp}
    assert fingerprint(cert) == fingerprint(_der(path)) == fp
    colons = ":".join(fp[i : i + 2] for i in range(0, 64, 2)).upper()
    assert normalize_fingerprint(colons) == fp
    assert normalize_fingerprint(f"sha256 Fingerprint={colons}") == fp
    with pytest.raises(ConfigError, match="not a SHA-256"):
        normalize_fingerprint("abc")


def test_nation_from_cert_forms(coalition: Coalition) -> None:
    der = _der(coalition.paths["JPN"]["node_cert"])
    assert nation_from_cert(der) == nation_from_cert(x509.load_der_x509_certificate(der)) == "JPN"
    peercert = {
        "subject": ((("commonName", "JPN"),), (("organizationName", "hotline"),)),
        "subjectAltName": (("IP Address", "127.0.0.1"), ("URI", "hotline:nation:JPN")),
    }
    assert nation_from_cert(peercert) == "JPN"
    assert nation_from_cert({"subject": ((("commonName", "KOR"),),)}) == "KOR"  # CN fallback
    with pytest.raises(UnknownPeer, match="no verified certificate"):
        nation_from_cert({})  # what getpeercert() gives for an unverified peer
    two = {"subjectAltName": (("URI", "hotline:nation:JPN"), ("URI", "hotline:nation:KOR"))}
    with pytest.raises(UnknownPeer, match="several nations"):
        nation_from_cert(two)
    with pytest.raises(UnknownPeer, match="names no nation"):
        nation_from_cert({"subject": ((("commonName", "example.org"),),)})
    with pytest.raises(UnknownPeer, match="no certificate"):
        peer_certificate_der(None)


def test_init_pki_is_idempotent_and_keeps_the_ca(tmp_path: Path) -> None:
    first = init_pki(tmp_path, "usa", ["127.0.0.1", "node.usa.example", "::1"])
    fp, node = fingerprint(first["ca_cert"]), first["node_cert"].read_bytes()
    again = init_pki(tmp_path, "USA")
    assert again == first
    assert fingerprint(again["ca_cert"]) == fp and again["node_cert"].read_bytes() == node
    renewed = init_pki(tmp_path, "USA", renew_node=True)
    assert fingerprint(renewed["ca_cert"]) == fp
    assert renewed["node_cert"].read_bytes() != node
    with pytest.raises(ConfigError, match="already holds USA's CA, not JPN's"):
        init_pki(tmp_path, "JPN")
    with pytest.raises(ConfigError, match="would invalidate the fingerprint"):
        create_ca("USA", tmp_path)


def test_issuing_is_checked(tmp_path: Path) -> None:
    ca = create_ca("JPN", tmp_path / "ca")
    assert isinstance(ca, CaFiles) and ca.nation == "JPN"
    with pytest.raises(ConfigError, match="JPN's national CA; it cannot issue a KOR node"):
        issue_node_cert(ca, "KOR", tmp_path / "node")
    with pytest.raises(ConfigError, match="neither an IP address nor an ASCII DNS name"):
        issue_node_cert(ca, "JPN", tmp_path / "node", hosts=["bad host"])
    with pytest.raises(ConfigError, match="at least one host"):
        issue_node_cert(ca, "JPN", tmp_path / "node", hosts=[])
    with pytest.raises(ConfigError, match="not an ISO 3166 alpha-3"):
        create_ca("Japan", tmp_path / "x")
    with pytest.raises(ConfigError, match=r"ca\.crt does not exist"):
        issue_node_cert(tmp_path / "missing", "JPN", tmp_path / "node")
    node = issue_node_cert(tmp_path / "ca", "jpn", tmp_path / "node")
    assert node.nation == "JPN" and node.ca_cert == ca.cert


def test_pins_and_context_config_errors(coalition: Coalition, tmp_path: Path) -> None:
    p = coalition.paths["USA"]
    with pytest.raises(ConfigError, match="is not pinned in the compact"):
        load_pinned_cas(coalition.trusted, {"USA": coalition.pins["USA"]})
    with pytest.raises(ConfigError, match="no CA certificate file for pinned nation"):
        load_pinned_cas([p["ca_cert"]], coalition.pins)
    with pytest.raises(ConfigError, match="no pinned CA"):
        server_context(p["node_cert"], p["node_key"], [])
    with pytest.raises(ConfigError, match=re.escape(f"{tmp_path / 'nope.crt'} does not exist")):
        client_context(p["node_cert"], p["node_key"], [tmp_path / "nope.crt"])
    bad = tmp_path / "bad.crt"
    bad.write_text("not a certificate")
    with pytest.raises(ConfigError, match=r"is not a PEM X\.509 certificate"):
        server_context(p["node_cert"], p["node_key"], [bad])
    other_key = coalition.paths["JPN"]["node_key"]
    with pytest.raises(ConfigError, match="cannot use node certificate"):
        client_context(p["node_cert"], other_key, coalition.trusted)
