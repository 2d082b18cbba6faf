"""Commands of the consultation aggregate (imperative; ``decide`` turns them into events).

``by`` is always the authenticated official's handle; the shell sets it, never the client.
"""

from __future__ import annotations

import msgspec

from hotline.domain.consultation_events import Phase
from hotline.domain.ids import Handle, Layer, NationCode


class Invoke(msgspec.Struct, frozen=True, kw_only=True):
    consultation_id: str
    by: Handle
    subject: str
    layer: Layer
    severity: str
    threatened: tuple[NationCode, ...]
    #: Default: every party of the compact. Must include the invoker's nation.
    parties: tuple[NationCode, ...] = ()
    information: str = ""


class Acknowledge(msgspec.Struct, frozen=True, kw_only=True):
    consultation_id: str
    by: Handle


class Convene(msgspec.Struct, frozen=True, kw_only=True):
    consultation_id: str
    by: Handle


class GivePosition(msgspec.Struct, frozen=True, kw_only=True):
    consultation_id: str
    by: Handle
    text: str


class ChangePhase(msgspec.Struct, frozen=True, kw_only=True):
    consultation_id: str
    by: Handle
    phase: Phase


class DraftStatement(msgspec.Struct, frozen=True, kw_only=True):
    """A new statement, or an amendment (new version) of ``statement_id``.

    ``amends``: the version the author saw; if given and no longer current, ``Conflict``.
    """

    consultation_id: str
    by: Handle
    statement_id: str
    text: str
    amends: int | None = None


class ApproveStatement(msgspec.Struct, frozen=True, kw_only=True):
    """Approve exactly ``version`` / ``text_hash``; ``sig`` is the approving nation's node
    signature over :func:`approval_signing_bytes` (the shell signs before calling ``decide``)."""

    consultation_id: str
    by: Handle
    statement_id: str
    version: int
    text_hash: str
    sig: str


Command = (
    Invoke | Acknowledge | Convene | GivePosition | ChangePhase | DraftStatement | ApproveStatement
)
