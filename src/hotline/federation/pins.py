"""The Ed25519 event-signing keys a node pins, by nation (its own and its federated peers').

Joint-statement approvals are signed with the approving nation's node key; every node checks
them against these pins (``store.consultations``, the consultation views).
"""

from __future__ import annotations

from pathlib import Path

from hotline.domain.compact import Compact
from hotline.domain.ids import NationCode
from hotline.federation.trust import load_trust
from hotline.signing import Signer, public_key_b64


def pinned_signing_keys(
    node_dir: Path, compact: Compact, signer: Signer, addresses: dict[str, str]
) -> dict[NationCode, str]:
    """``{nation: base64url public key}`` for this node and every peer it trusts.

    A party not pinned yet is left out (its events cannot arrive: there is no link to it).
    Raises ``ConfigError`` as ``load_trust`` does (a pin that does not match its CA file).
    """
    nation = NationCode(signer.nation)
    trust = load_trust(node_dir, compact, nation, addresses)
    keys = {n: public_key_b64(p.signing_key) for n, p in trust.peers.items()}
    keys[nation] = signer.public_key_b64
    return keys
