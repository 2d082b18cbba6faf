"""Escalation of late parties: the ladder and ``due(state, now, for_nation=...)``.

Origin-authoritative: only the node of the late party's own nation calls ``due`` for that
nation, so each nation's escalations have one writer.

Ladder (per party, starting at the consultation's layer): ``ops -> defense -> nsa -> leaders``
and ``foreign -> nsa -> leaders``; a layer the compact lacks is skipped (``ops`` falls back to
``foreign``, then ``nsa``, then ``leaders``); at the top ``leaders`` are re-notified. Each
escalation restarts the missed step's window (``ack_s`` or ``convene_s``) from ``now``.
"""

from __future__ import annotations

from hotline.domain.consultation_events import ConsultationEscalated, Missed
from hotline.domain.consultation_state import Consultation
from hotline.domain.ids import Layer, NationCode

#: Where each layer escalates to: the first of the candidates that the compact has.
_UP: dict[Layer, tuple[Layer, ...]] = {
    Layer.OPS: (Layer.DEFENSE, Layer.FOREIGN, Layer.NSA, Layer.LEADERS),
    Layer.DEFENSE: (Layer.NSA, Layer.LEADERS),
    Layer.FOREIGN: (Layer.NSA, Layer.LEADERS),
    Layer.NSA: (Layer.LEADERS,),
    Layer.LEADERS: (),
}

#: Shortest re-escalation window (seconds), so a zero service level cannot spin the scheduler.
MIN_WINDOW_S = 1.0


def escalation_ladder(layer: Layer, available: tuple[Layer, ...]) -> tuple[Layer, ...]:
    """``layer`` and the layers above it that ``available`` has, in escalation order."""
    ladder = [layer]
    while nxt := next((la for la in _UP[ladder[-1]] if la in available), None):
        ladder.append(nxt)
    return tuple(ladder)


def due(state: Consultation, now: float, *, for_nation: NationCode) -> list[ConsultationEscalated]:
    """Escalations owed at ``now`` for ``for_nation`` (the calling node's own nation only).

    A party that has not acknowledged by its ack deadline, or not convened by its convene
    deadline, is escalated one rung up ``state.ladder`` (``leaders`` are re-notified at the
    top); the missed step's window restarts from ``now``. At most one event per call; none
    once the consultation is closed or the nation is not a party.
    """
    party = state.party(for_nation)
    if state.closed or party is None:
        return []
    pending = party.pending()
    if pending is None or now < pending[1]:
        return []
    missed: Missed = pending[0]
    window = state.ack_s if missed == "ack" else state.convene_s
    return [
        ConsultationEscalated(
            consultation_id=state.consultation_id,
            nation=for_nation,
            from_layer=party.layer,
            to_layer=_next_rung(state.ladder, party.layer),
            missed=missed,
            level=party.escalations + 1,
            at=now,
            next_at=now + max(window, MIN_WINDOW_S),
        )
    ]


def _next_rung(ladder: tuple[Layer, ...], layer: Layer) -> Layer:
    if layer not in ladder:
        return layer
    return ladder[min(ladder.index(layer) + 1, len(ladder) - 1)]
