"""The public shapes of messages, receipts and escalations (API.md), built from domain state."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from typing import Any

from hotline.domain.channels import ConsultationChannel
from hotline.domain.compact import Channel, Compact
from hotline.domain.events import MessageEscalated, MessageSent
from hotline.domain.hotline import MessageState, Receipt, ack_deadline


def _iso_datetime(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


#: second -> "YYYY-MM-DDTHH:MM:SS" of the seconds formatted lately (a view formats a send time
#: and a deadline: two seconds at once). Bounded; dict reads and writes are atomic.
_seconds: dict[int, str] = {}


def iso(t: float | None) -> str | None:
    """Epoch seconds -> ``2026-11-22T21:13:31.123Z`` (None stays None).

    Same text as ``datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds")``
    (microseconds rounded half-even, then truncated to milliseconds), with the date and time of
    recent seconds reused: every message view formats two of these (a hot path).
    """
    if t is None:
        return None
    if not 0 <= t < 253_402_300_799:  # outside 1970..9999: the general path
        return _iso_datetime(t)
    frac, whole = math.modf(t)
    second, us = int(whole), round(frac * 1e6)
    if us >= 1_000_000:
        second, us = second + 1, us - 1_000_000
    prefix = _seconds.get(second)
    if prefix is None:
        if len(_seconds) >= 64:
            _seconds.clear()
        prefix = _seconds[second] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
    return f"{prefix}.{us // 1000:03d}Z"


def marking(sent: MessageSent) -> str:
    """Portion/banner marking, e.g. ``SECRET//REL TO USA, JPN, KOR``."""
    banner = sent.classification.banner
    if sent.classification.level == 0:
        return banner
    return f"{banner}//REL TO {', '.join(sent.rel_to)}"


def message_view(compact: Compact, sent: MessageSent) -> dict[str, Any]:
    return {
        "id": sent.message_id,
        "channel": sent.channel,
        "sender": sent.sender,
        "nation": sent.nation,
        "precedence": sent.precedence.value,
        "classification": sent.classification.value,
        "rel_to": list(sent.rel_to),
        "marking": marking(sent),
        "body": sent.body,
        "template": sent.template,
        "sent_at": iso(sent.sent_at),
        "ack_deadline": iso(ack_deadline(compact, sent.precedence, sent.sent_at)),
    }


def receipt_view(r: Receipt) -> dict[str, Any]:
    return {
        "delivered_at": iso(r.delivered_at),
        "read_at": iso(r.read_at),
        "read_by": r.read_by,
        "acked_at": iso(r.acked_at),
        "acked_by": r.acked_by,
    }


def escalation_view(r: Receipt, sender_nation: str) -> dict[str, Any]:
    if r.nation == sender_nation:
        state = "sender"
    elif r.acked_at is not None:
        state = "acknowledged"
    elif r.level > 0:
        state = "escalated"
    else:
        state = "pending"
    return {
        "state": state,
        "level": r.level,
        "notified": list(r.notified),
        "escalated_at": iso(r.escalated_at),
        "next_at": iso(r.next_at) if state in ("pending", "escalated") else None,
    }


def detail_view(compact: Compact, state: MessageState) -> dict[str, Any]:
    view = message_view(compact, state.sent)
    view["receipts"] = {n: receipt_view(r) for n, r in state.receipts.items()}
    view["escalation"] = {
        n: escalation_view(r, state.sent.nation) for n, r in state.receipts.items()
    }
    view["acknowledged"] = all(r.acked_at is not None for r in state.receipts.values())
    return view


def channel_view(channel: Channel) -> dict[str, Any]:
    """A channel of ``GET /api/v1/channels``; ``consultation`` is null for the compact's
    channels and ``{id, subject, closed}`` for a consultation's own channel."""
    consultation = (
        {"id": channel.consultation_id, "subject": channel.subject, "closed": channel.closed}
        if isinstance(channel, ConsultationChannel)
        else None
    )
    return {
        "id": channel.id,
        "layer": channel.layer.value,
        "members": list(channel.members),
        "kind": channel.kind,
        "max_classification": channel.max_classification.value,
        "consultation": consultation,
    }


def escalation_event_view(ev: MessageEscalated, sent: MessageSent) -> dict[str, Any]:
    return {
        "type": "escalation",
        "message_id": ev.message_id,
        "channel": sent.channel,
        "precedence": sent.precedence.value,
        "nation": ev.nation,
        "level": ev.level,
        "notified": list(ev.notified),
        "at": iso(ev.at),
        "next_at": iso(ev.next_at),
    }
