"""Federation PKI: a national CA per nation, node certificates, and mutual TLS 1.3 contexts.

Trust model (see ``docs/pki.md``):

- Each nation runs its own CA (``create_ca``) and issues its node a certificate
  (``issue_node_cert``) whose URI SAN ``hotline:nation:<CODE>`` names the nation.
- The compact pins, per nation, the SHA-256 fingerprint of that nation's CA certificate.
- TLS (``server_context`` / ``client_context``) accepts only certificates chaining to one of the
  pinned CAs; then ``verify_pinned`` checks that the peer's certificate chains to the CA
  pinned *for the nation it claims*, so JPN's CA cannot vouch for a "KOR" node.
- A peer's nation is derived from its verified certificate, never from a payload.

Keys are ECDSA P-256, signatures SHA-256. Key files are PEM PKCS#8, mode 0600.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import re
import ssl
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from hotline.domain.ids import NationCode
from hotline.errors import ConfigError, FederationError
from hotline.signing import write_key_file

__all__ = [
    "CA_VALIDITY",
    "DEFAULT_HOSTS",
    "NATION_URI_PREFIX",
    "NODE_VALIDITY",
    "CaFiles",
    "NodeCertFiles",
    "UnknownPeer",
    "build_node_certificate",
    "client_context",
    "create_ca",
    "fingerprint",
    "init_pki",
    "issue_node_cert",
    "load_certificate",
    "load_pinned_cas",
    "nation_from_cert",
    "normalize_fingerprint",
    "peer_certificate_der",
    "server_context",
    "verify_pinned",
]

NATION_URI_PREFIX = "hotline:nation:"
DEFAULT_HOSTS: tuple[str, ...] = ("127.0.0.1", "localhost")
CA_VALIDITY = dt.timedelta(days=3653)
NODE_VALIDITY = dt.timedelta(days=731)
#: Back-date ``notBefore`` a little so a peer whose clock runs slow accepts a fresh cert.
_CLOCK_SKEW = dt.timedelta(minutes=5)
_NATION = re.compile(r"[A-Z]{3}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_ORG = "hotline"


class UnknownPeer(FederationError):
    """A peer whose certificate is not vouched for by the CA pinned for its nation."""

    code = "unknown_peer"


@dataclass(frozen=True, slots=True)
class CaFiles:
    nation: NationCode
    cert: Path
    key: Path


@dataclass(frozen=True, slots=True)
class NodeCertFiles:
    nation: NationCode
    cert: Path
    key: Path
    #: The issuing national CA's certificate (trust it, and give it to peers).
    ca_cert: Path


# -- small helpers ----------------------------------------------------------------------------


def _nation(code: str) -> NationCode:
    upper = code.strip().upper()
    if not _NATION.fullmatch(upper):
        raise ConfigError(f"nation {code!r} is not an ISO 3166 alpha-3 code such as 'USA'")
    return NationCode(upper)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _read(path: Path, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError as exc:
        raise ConfigError(f"{what} file {path} does not exist") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read {what} file {path}: {exc.strerror or exc}") from exc


def _write_public(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from exc


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_certificate(path: Path) -> x509.Certificate:
    """One PEM certificate from ``path``; ``ConfigError`` naming the path otherwise."""
    data = _read(path, "certificate")
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError as exc:
        raise ConfigError(f"certificate file {path} is not a PEM X.509 certificate") from exc


def _load_private_key(path: Path) -> ec.EllipticCurvePrivateKey:
    data = _read(path, "private key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ConfigError(f"key file {path} is not an unencrypted PEM private key") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ConfigError(f"key file {path} holds a {type(key).__name__}; expected an EC key")
    return key


def _general_names(hosts: Iterable[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
            continue
        except ValueError:
            pass
        if not host or not host.isascii() or not re.fullmatch(r"[A-Za-z0-9.*-]+", host):
            raise ConfigError(
                f"host {host!r} is neither an IP address nor an ASCII DNS name (use IDNA A-labels)"
            )
        names.append(x509.DNSName(host.lower()))
    if not names:
        raise ConfigError("a node certificate needs at least one host (IP address or DNS name)")
    return names


# -- certificates -----------------------------------------------------------------------------


def create_ca(nation: str, out_dir: Path, *, overwrite: bool = False) -> CaFiles:
    """Create ``nation``'s CA: ``out_dir/ca.crt`` and ``out_dir/ca.key`` (0600).

    Self-signed, CN ``hotline <NATION> national CA``, CA:TRUE (pathlen 0), keyCertSign,
    valid 10 years. Refuses (``ConfigError``) to replace an existing CA key unless
    ``overwrite``: a new CA breaks the fingerprint pinned in every peer's compact.
    """
    code = _nation(nation)
    out_dir = Path(out_dir)
    files = CaFiles(nation=code, cert=out_dir / "ca.crt", key=out_dir / "ca.key")
    if files.key.exists() and not overwrite:
        raise ConfigError(
            f"CA key {files.key} already exists; replacing it would invalidate the"
            " fingerprint pinned by every peer"
        )
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, f"hotline {code} national CA"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, _ORG),
        ]
    )
    now = _now()
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _CLOCK_SKEW)
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    write_key_file(files.key, _key_pem(key))
    _write_public(files.cert, _pem(cert))
    return files


def build_node_certificate(
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    nation: str,
    node_public_key: ec.EllipticCurvePublicKey,
    hosts: Sequence[str] = DEFAULT_HOSTS,
    *,
    now: dt.datetime | None = None,
    validity: dt.timedelta = NODE_VALIDITY,
) -> x509.Certificate:
    """The node certificate itself, with no policy check on who issues it for whom.

    CN = ``nation``, O = hotline, SAN = ``hosts`` + URI ``hotline:nation:<NATION>``,
    serverAuth + clientAuth, valid ``validity`` (capped at the CA's expiry). Use
    :func:`issue_node_cert`; this low-level builder exists for tests and tooling.
    """
    code = _nation(nation)
    now = now or _now()
    not_after = min(now + validity, ca_cert.not_valid_after_utc)
    sans = [*_general_names(hosts), x509.UniformResourceIdentifier(NATION_URI_PREFIX + code)]
    return (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.COMMON_NAME, code),
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, _ORG),
                ]
            )
        )
        .issuer_name(ca_cert.subject)
        .public_key(node_public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _CLOCK_SKEW)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(node_public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )


def issue_node_cert(
    ca: CaFiles | Path,
    nation: str,
    out_dir: Path,
    hosts: Sequence[str] = DEFAULT_HOSTS,
) -> NodeCertFiles:
    """Issue ``nation``'s node certificate from its national CA: ``out_dir/node.{crt,key}``.

    ``ca`` is a :class:`CaFiles` or the directory holding ``ca.crt`` and ``ca.key``. A node
    key is generated each time (0600). Raises ``ConfigError`` on unreadable CA files, bad
    hosts, or a CA of another nation (a CA issues only for its own nation).
    """
    code = _nation(nation)
    ca_cert_path, ca_key_path = (
        (ca.cert, ca.key) if isinstance(ca, CaFiles) else (Path(ca) / "ca.crt", Path(ca) / "ca.key")
    )
    ca_cert = load_certificate(ca_cert_path)
    ca_key = _load_private_key(ca_key_path)
    if ca_cert.public_key() != ca_key.public_key():
        raise ConfigError(f"CA key {ca_key_path} does not belong to CA certificate {ca_cert_path}")
    ca_nation = nation_from_cert(ca_cert)
    if ca_nation != code:
        raise ConfigError(
            f"CA {ca_cert_path} is {ca_nation}'s national CA; it cannot issue a {code} node"
            " certificate"
        )
    out_dir = Path(out_dir)
    files = NodeCertFiles(
        nation=code, cert=out_dir / "node.crt", key=out_dir / "node.key", ca_cert=ca_cert_path
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = build_node_certificate(ca_cert, ca_key, code, key.public_key(), hosts)
    write_key_file(files.key, _key_pem(key))
    _write_public(files.cert, _pem(cert))
    return files


def init_pki(
    directory: Path,
    nation: str,
    hosts: Sequence[str] = DEFAULT_HOSTS,
    *,
    renew_node: bool = False,
) -> dict[str, Path]:
    """``hotline pki init``: a national CA and a node certificate in ``directory``.

    Idempotent: an existing CA is kept (it must be ``nation``'s), and an existing node
    certificate is kept unless ``renew_node``. Returns the paths under the keys ``ca_cert``,
    ``ca_key``, ``node_cert``, ``node_key``. Pin ``fingerprint(paths["ca_cert"])`` in the
    compact and send ``ca.crt`` to the peers; keep ``ca.key`` offline.
    """
    code = _nation(nation)
    directory = Path(directory)
    ca = CaFiles(nation=code, cert=directory / "ca.crt", key=directory / "ca.key")
    if ca.key.exists() or ca.cert.exists():
        existing = nation_from_cert(load_certificate(ca.cert))
        if existing != code:
            raise ConfigError(f"{directory} already holds {existing}'s CA, not {code}'s")
    else:
        ca = create_ca(code, directory)
    node_cert, node_key = directory / "node.crt", directory / "node.key"
    if renew_node or not (node_cert.exists() and node_key.exists()):
        node = issue_node_cert(ca, code, directory, hosts)
        node_cert, node_key = node.cert, node.key
    return {"ca_cert": ca.cert, "ca_key": ca.key, "node_cert": node_cert, "node_key": node_key}


# -- identity ---------------------------------------------------------------------------------


def _as_certificate(cert: x509.Certificate | bytes | str | Path) -> x509.Certificate:
    if isinstance(cert, x509.Certificate):
        return cert
    if isinstance(cert, str) and cert.lstrip().startswith("-----BEGIN"):
        cert = cert.encode("ascii")
    if isinstance(cert, str | Path):
        return load_certificate(Path(cert))
    try:
        if cert.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(cert)
        return x509.load_der_x509_certificate(cert)
    except ValueError as exc:
        raise ConfigError("not an X.509 certificate (PEM or DER)") from exc


def fingerprint(cert: x509.Certificate | bytes | str | Path) -> str:
    """SHA-256 of the certificate's DER, lowercase hex without separators (64 characters).

    ``cert`` is a certificate, a path, PEM text/bytes, or DER bytes.
    """
    der = _as_certificate(cert).public_bytes(serialization.Encoding.DER)
    return hashlib.sha256(der).hexdigest()


def normalize_fingerprint(text: str) -> str:
    """``AB:CD:...``, ``abcd...`` or OpenSSL's ``sha256 Fingerprint=AB:CD:...`` -> ``abcd...``.

    Raises ``ConfigError`` unless it is 32 bytes of hex.
    """
    hexed = text.rpartition("=")[2].strip().replace(":", "").lower()
    if not _HEX64.fullmatch(hexed):
        raise ConfigError(f"fingerprint {text!r} is not a SHA-256 hex digest (64 hex digits)")
    return hexed


def _nation_from_names(uris: Iterable[str], common_names: Iterable[str], where: str) -> NationCode:
    claims = {u[len(NATION_URI_PREFIX) :] for u in uris if u.startswith(NATION_URI_PREFIX)}
    if len(claims) > 1:
        raise UnknownPeer(f"{where} claims several nations {sorted(claims)}; refusing it")
    if claims:
        (claim,) = claims
        if not _NATION.fullmatch(claim):
            raise UnknownPeer(f"{where} names nation {claim!r}; expected a code such as 'USA'")
        return NationCode(claim)
    for cn in common_names:
        # Node certs have CN=USA; CA certs have CN="hotline USA national CA".
        match = re.fullmatch(r"(?:hotline )?([A-Z]{3})(?: national CA)?", cn)
        if match:
            return NationCode(match.group(1))
    raise UnknownPeer(f"{where} names no nation (no {NATION_URI_PREFIX}<CODE> URI, no CN)")


def nation_from_cert(peercert: Mapping[str, Any] | x509.Certificate | bytes) -> NationCode:
    """The nation a certificate names: its ``hotline:nation:<CODE>`` URI SAN, else its CN.

    Accepts ``SSLSocket.getpeercert()`` (a dict), ``getpeercert(binary_form=True)`` (DER
    bytes) or an ``x509.Certificate``. This reads a *claim*; only after the TLS handshake and
    :func:`verify_pinned` is it an identity. Raises ``UnknownPeer`` if the certificate is
    missing (an empty dict means unverified), ambiguous or names no nation.
    """
    if isinstance(peercert, Mapping):
        if not peercert:
            raise UnknownPeer("the peer presented no verified certificate")
        uris = [v for k, v in peercert.get("subjectAltName", ()) if k == "URI"]
        cns = [v for rdn in peercert.get("subject", ()) for k, v in rdn if k == "commonName"]
        return _nation_from_names(uris, cns, "peer certificate")
    if isinstance(peercert, bytes | bytearray):
        try:
            cert = x509.load_der_x509_certificate(bytes(peercert))
        except ValueError as exc:
            raise UnknownPeer("peer certificate is not DER X.509") from exc
    else:
        cert = peercert
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        uris = san.get_values_for_type(x509.UniformResourceIdentifier)
    except x509.ExtensionNotFound:
        uris = []
    cns = [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    return _nation_from_names(uris, cns, f"certificate {cert.subject.rfc4514_string()!r}")


def load_pinned_cas(
    ca_paths: Iterable[Path], pinned_ca_fingerprints: Mapping[str, str]
) -> dict[str, x509.Certificate]:
    """Map each pinned nation to its CA certificate, found among ``ca_paths`` by fingerprint.

    The nation comes from the compact's pin, not from what the CA file says. Raises
    ``ConfigError`` for a CA file that no pin matches, or a pinned nation with no CA file.
    """
    by_fp = {normalize_fingerprint(fp): _nation(n) for n, fp in pinned_ca_fingerprints.items()}
    out: dict[str, x509.Certificate] = {}
    for path in ca_paths:
        cert = load_certificate(Path(path))
        fp = fingerprint(cert)
        if fp not in by_fp:
            raise ConfigError(f"CA certificate {path} (sha256 {fp}) is not pinned in the compact")
        out[by_fp[fp]] = cert
    missing = sorted(set(by_fp.values()) - out.keys())
    if missing:
        raise ConfigError(f"no CA certificate file for pinned nation(s) {', '.join(missing)}")
    return out


def verify_pinned(
    peer_der: bytes,
    expected_nation: str | None,
    pinned_ca_fingerprints: Mapping[str, str],
    ca_certs: Mapping[str, x509.Certificate],
    *,
    now: dt.datetime | None = None,
) -> NationCode:
    """The peer's nation, once its certificate is proven to come from that nation's CA.

    ``peer_der`` is ``ssl_object.getpeercert(binary_form=True)``. The claimed nation (URI
    SAN, else CN) must equal ``expected_nation`` when given (the nation a client dialled),
    must have a pinned CA fingerprint, ``ca_certs[nation]`` must match that pin, and the
    certificate must chain to it (signature, validity at ``now``, CA constraints, EKU).
    Raises ``UnknownPeer`` otherwise: a JPN-issued certificate claiming KOR is refused.
    """
    try:
        cert = x509.load_der_x509_certificate(peer_der)
    except ValueError as exc:
        raise UnknownPeer("peer certificate is not DER X.509") from exc
    claimed = nation_from_cert(cert)
    if expected_nation is not None and claimed != expected_nation.upper():
        raise UnknownPeer(
            f"peer certificate names {claimed}; expected the {expected_nation.upper()} node"
        )
    pins = {n.upper(): fp for n, fp in pinned_ca_fingerprints.items()}
    pin = pins.get(claimed)
    if not pin:
        raise UnknownPeer(f"peer claims {claimed}, but no CA is pinned for {claimed}")
    ca = {n.upper(): c for n, c in ca_certs.items()}.get(claimed)
    if ca is None or fingerprint(ca) != normalize_fingerprint(pin):
        raise UnknownPeer(f"the CA certificate loaded for {claimed} does not match its pin")
    verifier = (
        PolicyBuilder().store(Store([ca])).time(now or _now()).max_chain_depth(0)
    ).build_client_verifier()
    try:
        verifier.verify(cert, [])
    except VerificationError as exc:
        raise UnknownPeer(
            f"peer certificate claiming {claimed} (issuer {cert.issuer.rfc4514_string()!r})"
            f" does not chain to {claimed}'s pinned CA: {exc}"
        ) from exc
    return claimed


def peer_certificate_der(ssl_object: ssl.SSLObject | ssl.SSLSocket | None) -> bytes:
    """The peer's DER certificate from ``transport.get_extra_info("ssl_object")``.

    Raises ``UnknownPeer`` if the connection is not TLS or the peer sent no certificate.
    """
    der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    if not der:
        raise UnknownPeer("the peer presented no certificate")
    return der


# -- TLS contexts -----------------------------------------------------------------------------


def _harden(
    ctx: ssl.SSLContext, node_cert: Path, node_key: Path, trusted_ca_paths: Sequence[Path]
) -> ssl.SSLContext:
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.verify_flags |= ssl.VERIFY_X509_STRICT
    if not trusted_ca_paths:
        raise ConfigError("no pinned CA certificates to trust; list the peers' ca.crt files")
    # Only the pinned CAs: never load_default_certs(), so no public CA can vouch for a peer.
    for path in trusted_ca_paths:
        load_certificate(Path(path))  # a clear ConfigError before OpenSSL's terse one
        try:
            ctx.load_verify_locations(cafile=str(path))
        except ssl.SSLError as exc:
            raise ConfigError(f"cannot trust CA certificate {path}: {exc.reason}") from exc
    _read(Path(node_cert), "node certificate")
    _read(Path(node_key), "node key")
    try:
        ctx.load_cert_chain(certfile=str(node_cert), keyfile=str(node_key))
    except ssl.SSLError as exc:
        raise ConfigError(
            f"cannot use node certificate {node_cert} with key {node_key}: {exc.reason}"
        ) from exc
    return ctx


def server_context(
    node_cert: Path, node_key: Path, trusted_ca_paths: Sequence[Path]
) -> ssl.SSLContext:
    """TLS 1.3 server context that requires a client certificate from a pinned CA.

    ``trusted_ca_paths`` are the peers' pinned CA certificates plus this nation's own CA;
    nothing else is trusted. After the handshake call :func:`verify_pinned` on the peer's
    certificate to learn (and bind) its nation. Raises ``ConfigError`` on unusable files.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    # No TLS session resumption: every federation connection presents and verifies a
    # certificate, so a rotated or removed CA takes effect at once.
    ctx.num_tickets = 0
    return _harden(ctx, node_cert, node_key, trusted_ca_paths)


def client_context(
    node_cert: Path, node_key: Path, trusted_ca_paths: Sequence[Path]
) -> ssl.SSLContext:
    """TLS 1.3 client context: presents the node certificate, verifies the server.

    The server must chain to a pinned CA and match the dialled host (``check_hostname``; an
    IP such as 127.0.0.1 matches the certificate's IP SAN). Then call :func:`verify_pinned`
    with the nation you meant to reach. Raises ``ConfigError`` on unusable files.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = True
    return _harden(ctx, node_cert, node_key, trusted_ca_paths)
