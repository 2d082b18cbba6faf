"""Which peers this node trusts: each peer's national CA (pinned by fingerprint) and signing key.

Pins come from the compact (``[[parties]] ca_fingerprint / signing_key``) and may be set or
overridden per node in ``DIR/peers.toml``; the peer CA certificates themselves live in
``DIR/peers/<NATION>-ca.crt`` (exchanged out of band). A CA file whose fingerprint differs from
its pin is refused at start.
"""

from __future__ import annotations

import shutil
import tomllib
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from hotline.domain.compact import Compact
from hotline.domain.ids import NationCode
from hotline.errors import ConfigError
from hotline.pki import (
    UnknownPeer,
    fingerprint,
    load_certificate,
    nation_from_cert,
    normalize_fingerprint,
)
from hotline.signing import load_public_key, load_signing_key, public_key_b64

PEERS_FILE = "peers.toml"
PEERS_DIR = "peers"
PKI_DIR = "pki"


@dataclass(frozen=True, slots=True)
class Peer:
    nation: NationCode
    ca_path: Path
    ca_fingerprint: str
    ca_cert: x509.Certificate
    signing_key: Ed25519PublicKey
    address: str


@dataclass(frozen=True, slots=True)
class Trust:
    nation: NationCode
    node_cert: Path
    node_key: Path
    own_ca: Path
    peers: dict[NationCode, Peer]
    #: Parties this node does not federate with yet, and why (shown in the peers status).
    unconfigured: dict[NationCode, str]

    @property
    def ca_paths(self) -> list[Path]:
        return [self.own_ca, *(p.ca_path for p in self.peers.values())]

    @property
    def fingerprints(self) -> dict[str, str]:
        own: dict[str, str] = {self.nation: fingerprint(self.own_ca)}
        return own | {n: p.ca_fingerprint for n, p in self.peers.items()}

    @property
    def ca_certs(self) -> dict[str, x509.Certificate]:
        own: dict[str, x509.Certificate] = {self.nation: load_certificate(self.own_ca)}
        return own | {n: p.ca_cert for n, p in self.peers.items()}


def load_trust(
    node_dir: Path, compact: Compact, nation: NationCode, addresses: dict[str, str]
) -> Trust:
    """Every pinned peer of the compact. A party not pinned yet is listed in ``unconfigured``
    (the node still serves its own officials); a pin that does not match is a ConfigError."""
    overrides: dict[str, dict[str, str]] = {}
    peers_file = node_dir / PEERS_FILE
    if peers_file.exists():
        try:
            overrides = tomllib.loads(peers_file.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{peers_file}: {exc}") from None
    unknown = sorted(set(overrides) - set(compact.nations))
    if unknown:
        raise ConfigError(f"{peers_file}: {unknown[0]} is not a party of {compact.id}")
    peers: dict[NationCode, Peer] = {}
    problems: list[str] = []
    unconfigured: dict[NationCode, str] = {}
    for party in compact.parties:
        if party.code == nation:
            continue
        o = overrides.get(party.code, {})
        pinned = o.get("ca_fingerprint") or party.ca_fingerprint
        key_b64 = o.get("signing_key") or party.signing_key
        # The address pinned with the peer (``hotline pki trust --address``) wins over the
        # node's settings (``[federation.peers]``, loopback ports by default), then the compact.
        address = o.get("address") or addresses.get(party.code) or party.federation
        ca_path = node_dir / PEERS_DIR / f"{party.code}-ca.crt"
        if not (pinned and key_b64 and address and ca_path.exists()):
            missing = [
                what
                for what, ok in (
                    ("ca_fingerprint", pinned),
                    ("signing_key", key_b64),
                    ("address", address),
                    (str(ca_path), ca_path.exists()),
                )
                if not ok
            ]
            unconfigured[party.code] = f"not pinned yet: missing {', '.join(missing)}"
            continue
        actual = fingerprint(ca_path)
        if normalize_fingerprint(pinned) != actual:
            problems.append(
                f"peer {party.code}: {ca_path} has fingerprint {actual}, pinned {pinned}"
            )
            continue
        peers[party.code] = Peer(
            nation=party.code,
            ca_path=ca_path,
            ca_fingerprint=actual,
            ca_cert=load_certificate(ca_path),
            signing_key=load_public_key(key_b64),
            address=address,
        )
    if problems:
        raise ConfigError(f"federation trust of {nation} in {node_dir}: " + "; ".join(problems))
    pki = node_dir / PKI_DIR
    return Trust(nation, pki / "node.crt", pki / "node.key", pki / "ca.crt", peers, unconfigured)


def trust_peer(
    node_dir: Path, nation: str, ca_cert: Path, signing_key: str, address: str | None = None
) -> dict[str, str]:
    """``hotline pki trust``: copy a peer's CA certificate in and pin it with its signing key."""
    nation = nation.upper()
    # Refuse garbage now, not at start, and before anything is copied or written.
    load_public_key(signing_key)
    cert = load_certificate(ca_cert)
    named: str
    try:
        named = nation_from_cert(cert)
    except UnknownPeer:  # a CA that names no nation: its fingerprint is the pin
        named = nation
    if named != nation:
        raise ConfigError(f"{ca_cert} is {named}'s CA certificate, not {nation}'s")
    (node_dir / PEERS_DIR).mkdir(exist_ok=True)
    dest = node_dir / PEERS_DIR / f"{nation}-ca.crt"
    shutil.copyfile(ca_cert, dest)
    entry = {"ca_fingerprint": fingerprint(dest), "signing_key": signing_key}
    if address:
        entry["address"] = address
    _write_peers(node_dir, {nation: entry})
    return {"nation": nation, **entry}


def own_pins(node_dir: Path) -> dict[str, str]:
    """What peers must pin for this node: its CA fingerprint and signing key."""
    key = load_signing_key(node_dir / "signing.key")
    return {
        "ca_fingerprint": fingerprint(node_dir / PKI_DIR / "ca.crt"),
        "signing_key": public_key_b64(key),
        "ca_cert": str(node_dir / PKI_DIR / "ca.crt"),
    }


def pin_peers(dirs: dict[str, Path]) -> None:
    """Make every node of ``dirs`` trust every other (the demo and tests)."""
    pins = {n: own_pins(d) for n, d in dirs.items()}
    for nation, d in dirs.items():
        for peer, pin in pins.items():
            if peer != nation:
                trust_peer(d, peer, Path(pin["ca_cert"]), pin["signing_key"])


def _write_peers(node_dir: Path, entries: dict[str, dict[str, str]]) -> None:
    path = node_dir / PEERS_FILE
    current: dict[str, dict[str, str]] = {}
    if path.exists():
        current = tomllib.loads(path.read_text())
    current.update(entries)
    lines = []
    for nation in sorted(current):
        lines.append(f"[{nation}]")
        lines.extend(f'{k} = "{v}"' for k, v in sorted(current[nation].items()))
        lines.append("")
    path.write_text("\n".join(lines))
