"""The channel registry: the compact's channels plus the consultations' own channels.

Pure. A node knows two kinds of channel:

- the compact's, ``<layer>.<members>`` (API.md): ``nsa.usa-jpn-kor``, ``defense.usa-kor``;
- one per consultation it holds, ``<layer>.<members>.<consultation id>``:
  ``nsa.usa-jpn-kor.c-usa-1a20542715b-fd8f9f12``. Its members are the consultation's parties,
  its layer the consultation's layer, and it carries at most what the compact's channel of that
  layer and those parties carries. It exists at every node that holds the consultation's
  ``ConsultationInvoked`` (federated to every party, to nobody else), so a nation that is no
  party never learns of it.

The id starts with ``<layer>.``, so every rule that takes the layer from a message's channel
(``domain.hotline.may_read``, the escalation ladder) treats both kinds alike. The shell passes
the consultation channels it has stored (``known``) to ``resolve`` and ``channels_for``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from hotline.domain.compact import Channel, Compact
from hotline.domain.consultation_events import ConsultationInvoked
from hotline.domain.ids import ChannelId, Layer, NationCode, channel_id
from hotline.errors import Invalid

#: What a consultation id may be to become part of a channel id (a URL path segment).
CONSULTATION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")

#: No consultation channels (a node that holds no consultation, or a compact channel's look-up).
NO_CHANNELS: Mapping[ChannelId, Channel] = {}


class ConsultationChannel(Channel, frozen=True, kw_only=True):
    """A consultation's own channel among its parties at its layer."""

    consultation_id: str
    subject: str = ""
    #: When the consultation was invoked (epoch s): the most recent is listed first.
    opened_at: float = 0.0
    #: The consultation is closed: its channel keeps its history (read, acknowledge) but takes
    #: no new message (``domain.hotline.compose``).
    closed: bool = False


def consultation_channel_id(
    layer: Layer, parties: tuple[NationCode, ...], consultation_id: str
) -> ChannelId:
    """``nsa``, ``(USA, JPN, KOR)``, ``c-7f3c`` -> ``nsa.usa-jpn-kor.c-7f3c``."""
    return ChannelId(f"{channel_id(layer.value, parties)}.{consultation_id}")


def consultation_channel(
    compact: Compact,
    *,
    consultation_id: str,
    layer: Layer,
    parties: tuple[NationCode, ...],
    subject: str = "",
    opened_at: float = 0.0,
) -> ConsultationChannel:
    """The channel of a consultation among ``parties`` (in compact order) at ``layer``.

    Raises ``Invalid`` if the compact has no channel at ``layer`` for these parties (the
    consultation's channel carries at most what that one carries) or if ``consultation_id``
    cannot be part of a channel id (letters, digits, ``-`` and ``_``; at most 128).
    """
    if not CONSULTATION_ID.fullmatch(consultation_id):
        raise Invalid(
            f"consultation_id: {consultation_id!r} cannot name a channel (letters, digits, '-' "
            "and '_', at most 128, starting with a letter or digit)"
        )
    base = compact.channel(channel_id(layer.value, parties))
    if base is None:
        raise Invalid(
            f"layer: compact {compact.id!r} has no channel "
            f"{channel_id(layer.value, parties)} for these parties"
        )
    return ConsultationChannel(
        id=consultation_channel_id(layer, parties, consultation_id),
        layer=layer,
        members=base.members,
        max_classification=base.max_classification,
        consultation_id=consultation_id,
        subject=subject,
        opened_at=opened_at,
    )


def channel_of(compact: Compact, invoked: ConsultationInvoked) -> ConsultationChannel | None:
    """The own channel an invocation opens, or ``None`` if it runs on a compact channel.

    ``None`` is for invocations made before consultations had their own channel (they name the
    compact's ``<layer>.<parties>``). Raises ``Invalid`` for any other channel: an invocation
    names its own channel, ``<layer>.<parties>.<consultation id>``, and nothing else.
    """
    if invoked.channel == channel_id(invoked.layer.value, invoked.parties) and compact.channel(
        invoked.channel
    ):
        return None
    channel = consultation_channel(
        compact,
        consultation_id=invoked.consultation_id,
        layer=invoked.layer,
        parties=invoked.parties,
        subject=invoked.subject,
        opened_at=invoked.at,
    )
    if channel.id != invoked.channel:
        raise Invalid(
            f"channel: consultation {invoked.consultation_id} names channel {invoked.channel}; "
            f"its channel is {channel.id}"
        )
    return channel


def resolve(
    compact: Compact, cid: str, known: Mapping[ChannelId, Channel] = NO_CHANNELS
) -> Channel | None:
    """The channel ``cid``: the compact's, else a consultation channel in ``known``, else None."""
    return compact.channel(ChannelId(cid)) or known.get(ChannelId(cid))


def channels_for(
    compact: Compact, known: Iterable[Channel], nation: NationCode, layer: Layer
) -> tuple[Channel, ...]:
    """The channels of ``nation``'s officials at ``layer``: the compact's (compact order),
    then the consultation channels in ``known`` (most recent first)."""
    mine = [c for c in known if c.layer == layer and nation in c.members]
    own = sorted(
        (c for c in mine if compact.channel(c.id) is None),
        key=lambda c: (-c.opened_at if isinstance(c, ConsultationChannel) else 0.0, c.id),
    )
    return (*compact.channels_for(nation, layer), *own)
