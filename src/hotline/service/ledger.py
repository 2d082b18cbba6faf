"""The node's Merkle log of every event it holds (RFC 9162 leaves over the signed envelopes),
and its signed tree head (``GET /api/v1/ledger/head``).

The log follows the ``events`` table in commit order (``seq``): on each request it takes in the
events committed since the last one, so it is always exactly the durable history.
"""

from __future__ import annotations

from typing import Any

from hotline.ledger.head import TreeHead, sign_head
from hotline.ledger.merkle import MerkleLog, leaf_hash
from hotline.ports import Clock, Store
from hotline.signing import Signer, b64url_decode


class LedgerService:
    def __init__(self, store: Store, signer: Signer, clock: Clock) -> None:
        self.store = store
        self.signer = signer
        self.clock = clock
        self.log = MerkleLog()
        self._last_seq = 0

    def catch_up(self) -> int:
        """Append the events committed since the last call; returns the log size."""
        rows = self.store.reader.execute(
            "SELECT seq, raw FROM events WHERE seq > ? ORDER BY seq", (self._last_seq,)
        )
        for seq, raw in rows:
            self.log.append(leaf_hash(bytes(raw)))
            self._last_seq = int(seq)
        return self.log.size

    def head(self) -> TreeHead:
        self.catch_up()
        head = TreeHead(
            nation=self.signer.nation,  # type: ignore[arg-type]
            size=self.log.size,
            root=self.log.root().hex(),
            at=self.clock.now(),
        )
        return sign_head(head, lambda data: b64url_decode(self.signer.sign(data)))

    def head_view(self) -> dict[str, Any]:
        h = self.head()
        return {
            "nation": h.nation,
            "size": h.size,
            "root": h.root,
            "at": h.at,
            "sig": h.sig,
            "signing_key": self.signer.public_key_b64,
            "hash": "sha256 (RFC 9162 leaves over canonical signed envelopes)",
        }
