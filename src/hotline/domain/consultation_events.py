"""Events of the consultation aggregate (the commitment to consult).

Facts in the past tense, tagged ``consultation_*`` (plus ``position_given``, ``phase_changed``
and ``statement_*``); the tags are stored and federated, keep them stable.
``hotline.domain.consultation`` re-exports everything here; the event union in
``hotline.domain.events`` can import :data:`ConsultationEvent` from this light module.
"""

from __future__ import annotations

import enum
import hashlib
from typing import Literal

import msgspec

from hotline.domain.ids import ChannelId, Handle, Layer, NationCode
from hotline.domain.obligations import Obligation


class Phase(enum.StrEnum):
    """Phases of a consultation, in order; they only move forward and ``closed`` is final."""

    SHARE_INFORMATION = "share_information"
    ALIGN_MESSAGING = "align_messaging"
    COORDINATE_RESPONSE = "coordinate_response"
    CLOSED = "closed"

    @property
    def rank(self) -> int:
        return _PHASE_RANK[self]


_PHASE_RANK = {p: i for i, p in enumerate(Phase)}

OPEN_PHASES: tuple[Phase, ...] = (
    Phase.SHARE_INFORMATION,
    Phase.ALIGN_MESSAGING,
    Phase.COORDINATE_RESPONSE,
)

Missed = Literal["ack", "convene"]


class ConsultationInvoked(msgspec.Struct, frozen=True, kw_only=True, tag="consultation_invoked"):
    """``invoked_by`` (of ``nation``) invoked the commitment to consult.

    Every party is notified at ``at``; each must acknowledge by ``ack_deadline`` and convene by
    ``convene_deadline``. The invoking nation counts as acknowledged and convened at ``at``.
    ``ladder`` is the escalation path from ``layer`` upward among the compact's layers.
    """

    consultation_id: str
    subject: str
    layer: Layer
    severity: str
    threatened: tuple[NationCode, ...]
    invoked_by: Handle
    nation: NationCode
    parties: tuple[NationCode, ...]
    channel: ChannelId
    information: str = ""
    at: float
    ack_deadline: float
    convene_deadline: float
    ladder: tuple[Layer, ...] = ()
    #: What the obligations engine said at invocation (one per compact party).
    obligations: tuple[Obligation, ...] = ()


class ConsultationAcknowledged(
    msgspec.Struct, frozen=True, kw_only=True, tag="consultation_acknowledged"
):
    consultation_id: str
    nation: NationCode
    by: Handle
    at: float


class ConsultationConvened(msgspec.Struct, frozen=True, kw_only=True, tag="consultation_convened"):
    """``nation``'s representatives joined the consultation (on its channel)."""

    consultation_id: str
    nation: NationCode
    by: Handle
    at: float


class PositionGiven(msgspec.Struct, frozen=True, kw_only=True, tag="position_given"):
    consultation_id: str
    nation: NationCode
    by: Handle
    text: str
    at: float


class ConsultationEscalated(
    msgspec.Struct, frozen=True, kw_only=True, tag="consultation_escalated"
):
    """``nation`` missed its ``missed`` deadline; its ``to_layer`` is notified.

    Emitted only by ``nation``'s own node (origin-authoritative). ``level`` counts the
    escalations of that nation in this consultation (1, 2, ...); ``next_at`` is the new
    deadline for the missed step.
    """

    consultation_id: str
    nation: NationCode
    from_layer: Layer
    to_layer: Layer
    missed: Missed
    level: int
    at: float
    next_at: float


class PhaseChanged(msgspec.Struct, frozen=True, kw_only=True, tag="phase_changed"):
    consultation_id: str
    phase: Phase
    nation: NationCode
    by: Handle
    at: float


class StatementDrafted(msgspec.Struct, frozen=True, kw_only=True, tag="statement_drafted"):
    """Version ``version`` of a joint statement; a version above 1 is an amendment."""

    consultation_id: str
    statement_id: str
    version: int
    text: str
    text_hash: str
    nation: NationCode
    by: Handle
    at: float


class StatementApproved(msgspec.Struct, frozen=True, kw_only=True, tag="statement_approved"):
    """``nation`` approved exactly ``version`` / ``text_hash``.

    ``sig`` is the approving nation's node signature (base64url Ed25519) over
    :func:`approval_signing_bytes`; the shell verifies it with the nation's pinned key.
    """

    consultation_id: str
    statement_id: str
    version: int
    text_hash: str
    nation: NationCode
    by: Handle
    at: float
    sig: str


class StatementAdopted(msgspec.Struct, frozen=True, kw_only=True, tag="statement_adopted"):
    """Informational: every party approved ``version``. ``apply`` derives adoption itself."""

    consultation_id: str
    statement_id: str
    version: int
    text_hash: str
    at: float


ConsultationEvent = (
    ConsultationInvoked
    | ConsultationAcknowledged
    | ConsultationConvened
    | PositionGiven
    | ConsultationEscalated
    | PhaseChanged
    | StatementDrafted
    | StatementApproved
    | StatementAdopted
)

_canonical = msgspec.json.Encoder(order="sorted")


def text_hash(text: str) -> str:
    """``sha256:<hex>`` of the UTF-8 text of a statement version."""
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def approval_signing_bytes(
    *,
    consultation_id: str,
    statement_id: str,
    version: int,
    text_hash: str,
    nation: NationCode,
    by: Handle,
) -> bytes:
    """The bytes the approving nation's node signs: sorted-key JSON of the approval's identity.

    ``at`` is left out: the envelope carries the time, and the signature says *what* was
    approved and by whom, so it can be checked in an exported record on its own.
    """
    return _canonical.encode(
        {
            "type": "statement_approval",
            "consultation_id": consultation_id,
            "statement_id": statement_id,
            "version": version,
            "text_hash": text_hash,
            "nation": nation,
            "by": by,
        }
    )


def signing_bytes_of(event: StatementApproved) -> bytes:
    """:func:`approval_signing_bytes` of a received approval (for the shell's ingress check)."""
    return approval_signing_bytes(
        consultation_id=event.consultation_id,
        statement_id=event.statement_id,
        version=event.version,
        text_hash=event.text_hash,
        nation=event.nation,
        by=event.by,
    )
