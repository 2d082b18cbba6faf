"""The obligations engine: for a crisis, who is bound to defend and who only to consult.

Pure: reads the compact's treaties, returns one :class:`Obligation` per party (compact order).

Rules, for every party ``p`` and every threatened nation ``n`` with ``n != p``:

- ``defend`` if a ``defend`` treaty is triggered by ``n`` (``treaty.triggered_by(n)``) and ``p``
  is one of its parties (US–Japan 1960 Art. V binds the USA when Japan is attacked; it covers
  only territories under the administration of Japan, so it does not bind Japan when the USA
  is attacked);
- else ``consult`` if a ``consult`` treaty triggered by ``n`` lists ``p`` (Camp David 2023: Japan
  and the Republic of Korea are no allies, they commit to consult);
- else nothing toward ``n``.

With several threatened nations the obligations are united and the strongest wins
(``defend`` > ``consult``); ``sources`` lists every treaty of the winning kind, each with the
threatened nations it applies ``toward``.

The threatened party itself: ``threatened`` is ``True``. Its ``kind`` is the strongest obligation
it owes to the *other* threatened nations (the USA and Japan both attacked: the USA still must
defend Japan); when it owes none, ``kind`` is ``"threatened"``. Strength order:
``defend`` > ``consult`` > ``threatened`` > ``none``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import msgspec

from hotline.domain.compact import Compact, Treaty
from hotline.domain.ids import NationCode
from hotline.errors import Invalid

ObligationKind = Literal["defend", "consult", "threatened", "none"]

#: Strength of each kind; the strongest wins when several nations are threatened.
STRENGTH: dict[str, int] = {"defend": 3, "consult": 2, "threatened": 1, "none": 0}

_BINDING_KINDS = ("defend", "consult")


class Source(msgspec.Struct, frozen=True, kw_only=True):
    """One treaty (and article) that creates the obligation."""

    treaty: str
    article: str
    title: str
    #: False for a political commitment (Camp David 2023), True for a legal treaty.
    legal: bool
    #: The treaty's kind: ``defend`` or ``consult``.
    kind: str
    #: The threatened nations this source binds the party toward (compact order).
    toward: tuple[NationCode, ...]


class Obligation(msgspec.Struct, frozen=True, kw_only=True):
    nation: NationCode
    kind: ObligationKind
    #: True when this party is itself one of the threatened nations.
    threatened: bool = False
    sources: tuple[Source, ...] = ()


def obligations(compact: Compact, threatened: Sequence[NationCode]) -> tuple[Obligation, ...]:
    """One obligation per party of ``compact`` (in compact order) for an attack on ``threatened``.

    Raises ``Invalid`` when ``threatened`` is empty or names a nation that is not a party.
    """
    targets = _validated(compact, threatened)
    return tuple(_obligation_of(compact, party, targets) for party in compact.nations)


def _validated(compact: Compact, threatened: Sequence[NationCode]) -> tuple[NationCode, ...]:
    if not threatened:
        raise Invalid("threatened: name at least one threatened nation")
    nations = compact.nations
    unknown = [n for n in threatened if n not in nations]
    if unknown:
        raise Invalid(
            f"threatened: {', '.join(repr(n) for n in unknown)} "
            f"{'is' if len(unknown) == 1 else 'are'} not a party to compact {compact.id!r} "
            f"(parties: {', '.join(nations)})"
        )
    return tuple(n for n in nations if n in set(threatened))


def _binds(treaty: Treaty, party: NationCode, target: NationCode) -> bool:
    return (
        treaty.kind in _BINDING_KINDS
        and party != target
        and party in treaty.parties
        and treaty.triggered_by(target)
    )


def _obligation_of(
    compact: Compact, party: NationCode, targets: tuple[NationCode, ...]
) -> Obligation:
    is_threatened = party in targets
    toward: dict[str, list[NationCode]] = {}
    for treaty in compact.treaties:
        hits = [t for t in targets if _binds(treaty, party, t)]
        if hits:
            toward[treaty.id] = hits
    best = max(
        (t.kind for t in compact.treaties if t.id in toward),
        key=STRENGTH.__getitem__,
        default=None,
    )
    if best is None:
        return Obligation(
            nation=party, kind="threatened" if is_threatened else "none", threatened=is_threatened
        )
    sources = tuple(
        Source(
            treaty=t.id,
            article=t.article,
            title=t.title,
            legal=t.legal,
            kind=t.kind,
            toward=tuple(toward[t.id]),
        )
        for t in compact.treaties
        if t.id in toward and t.kind == best
    )
    kind: ObligationKind = "defend" if best == "defend" else "consult"
    return Obligation(nation=party, kind=kind, threatened=is_threatened, sources=sources)
