"""Certificates of the CoT TLS port: TAK client certificates from the nation's CA.

A TAK client (a sensor gateway, an ATAK/WinTAK device) connecting to ``cot.tls_port`` must
present a certificate issued by this nation's CA (``DIR/pki/ca.crt``); nothing else is
trusted there, so only this nation's sensors and clients connect. ``issue_client_cert`` makes
one (CN = the client's name, URI SANs ``hotline:nation:<CODE>`` and ``hotline:tak:<name>``,
clientAuth), as ``<name>.crt``/``<name>.key`` plus a copy of ``ca.crt`` for the client to
verify the node (pytak: ``PYTAK_TLS_CLIENT_CERT``, ``_KEY``, ``_CAFILE``).
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from hotline.errors import ConfigError
from hotline.pki import NATION_URI_PREFIX, load_certificate, nation_from_cert
from hotline.signing import write_key_file

TAK_URI_PREFIX = "hotline:tak:"
CLIENT_VALIDITY = dt.timedelta(days=365)
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")


def _ca_key(path: Path) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigError(f"cannot read the CA key {path}: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ConfigError(f"CA key {path} is not an EC key")
    return key


def issue_client_cert(pki_dir: Path, name: str, out_dir: Path) -> dict[str, Path]:
    """Issue the TAK client certificate ``name`` from the CA in ``pki_dir``; returns the
    paths ``cert``, ``key`` (0600) and ``ca`` written in ``out_dir``."""
    if not _NAME.fullmatch(name):
        raise ConfigError(f"client name {name!r}: lower-case letters, digits, '.', '_', '-'")
    ca_cert = load_certificate(pki_dir / "ca.crt")
    ca_key = _ca_key(pki_dir / "ca.key")
    nation = nation_from_cert(ca_cert)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.COMMON_NAME, name),
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"hotline {nation}"),
                ]
            )
        )
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(min(now + CLIENT_VALIDITY, ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.UniformResourceIdentifier(NATION_URI_PREFIX + nation),
                    x509.UniformResourceIdentifier(TAK_URI_PREFIX + name),
                ]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "cert": out_dir / f"{name}.crt",
        "key": out_dir / f"{name}.key",
        "ca": out_dir / "ca.crt",
    }
    write_key_file(
        paths["key"],
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    paths["cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    shutil.copyfile(pki_dir / "ca.crt", paths["ca"])
    return paths


def tls_server_context(pki_dir: Path) -> ssl.SSLContext:
    """The CoT TLS port's context: the node's certificate; clients must present one chaining
    to this nation's CA only. TLS 1.2 at least (TAK clients in the field often stop there)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.num_tickets = 0
    try:
        ctx.load_verify_locations(cafile=str(pki_dir / "ca.crt"))
        ctx.load_cert_chain(str(pki_dir / "node.crt"), str(pki_dir / "node.key"))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"CoT TLS: cannot use the certificates in {pki_dir}: {exc}") from exc
    return ctx
