"""Properties of the hotline's ordering and receipts: the precedence queue drains by
(rank, arrival) for any interleaving, a stream subscription puts a FLASH first whatever is
queued before it, and folding receipt events in any order (with duplicates) is order-tolerant."""

from __future__ import annotations

import asyncio

from hypothesis import given
from hypothesis import strategies as st

from hotline.bus.memory import Item, Subscription
from hotline.compacts import load_compact
from hotline.domain import hotline as rules
from hotline.domain.compact import Official
from hotline.domain.events import (
    MessageAcknowledged,
    MessageDelivered,
    MessageEscalated,
    MessageRead,
    MessageSent,
)
from hotline.domain.ids import (
    ChannelId,
    Classification,
    Handle,
    MessageId,
    NationCode,
    Precedence,
)
from hotline.domain.precedence import PrecedenceQueue

CAMP_DAVID = load_compact("camp-david")
USA, JPN = NationCode("USA"), NationCode("JPN")
T0 = 1_790_000_000.0
FLASH = Precedence.FLASH.rank
ROUTINE = Precedence.ROUTINE.rank


def _official(handle: str) -> Official:
    o = CAMP_DAVID.official(Handle(handle))
    assert o is not None
    return o


# ---- PrecedenceQueue ----------------------------------------------------------------------

# An operation is a push of a rank (0..3) or a drain of up to n items.
ops = st.lists(
    st.one_of(
        st.tuples(st.just("push"), st.integers(0, 3)),
        st.tuples(st.just("drain"), st.integers(1, 5)),
    ),
    max_size=80,
)


@given(ops)
def test_queue_drains_by_rank_then_arrival_for_any_interleaving(
    script: list[tuple[str, int]],
) -> None:
    """Model: every drain takes the smallest (rank, arrival) among what is queued then."""
    q: PrecedenceQueue[tuple[int, int]] = PrecedenceQueue()
    model: list[tuple[int, int]] = []
    arrival = 0
    for op, n in script:
        if op == "push":
            arrival += 1
            q.push(n, (n, arrival))
            model.append((n, arrival))
        else:
            got = q.drain(n)
            model.sort()
            want, model = model[:n], model[n:]
            assert got == want
            assert got == sorted(got)
        assert len(q) == len(model)
        assert bool(q) == bool(model)
    rest = q.drain(10_000)
    assert rest == sorted(model)
    assert not q


@given(st.integers(0, 500), st.lists(st.integers(0, 3), max_size=30))
def test_flash_pushed_after_any_backlog_comes_out_first(routine: int, more: list[int]) -> None:
    q: PrecedenceQueue[str] = PrecedenceQueue()
    for i in range(routine):
        q.push(ROUTINE, f"r{i}")
    for i, rank in enumerate(more):
        q.push(rank, f"m{i}-{rank}")
    q.push(FLASH, "flash!")
    first = q.pop()
    earlier_flashes = [f"m{i}-0" for i, rank in enumerate(more) if rank == FLASH]
    # FIFO within FLASH: only FLASHes pushed before it may leave before it
    assert first == (earlier_flashes[0] if earlier_flashes else "flash!")
    out = [first, *q.drain(10_000)]
    assert out.index("flash!") == len(earlier_flashes)
    assert len(out) == routine + len(more) + 1


# ---- bus.memory.Subscription ---------------------------------------------------------------


def _always(_: Official) -> bool:
    return True


@given(st.integers(0, 2000), st.integers(1, 256))
def test_subscription_gives_the_flash_in_the_first_batch(routine: int, limit: int) -> None:
    sub = Subscription(_official("jpn.ops"))
    for i in range(routine):
        sub.offer(Item(ROUTINE, b"routine %d" % i, _always))
    sub.offer(Item(FLASH, b"FLASH", _always))

    async def first_batch() -> list[bytes]:
        return await sub.next_batch(limit)

    batch = asyncio.run(first_batch())
    assert batch[0] == b"FLASH"
    assert len(batch) == min(limit, routine + 1)
    # the routine frames that follow keep their arrival order
    assert batch[1:] == [b"routine %d" % i for i in range(len(batch) - 1)]


@given(st.integers(0, 50))
def test_subscription_drops_what_its_official_may_not_see(n: int) -> None:
    sub = Subscription(_official("kor.ops"))
    for i in range(n):
        sub.offer(Item(ROUTINE, b"hidden %d" % i, lambda o: o.nation != "KOR"))
    sub.offer(Item(FLASH, b"called", lambda o: False, frozenset({Handle("kor.ops")})))
    assert len(sub.queue) == 1
    assert sub.queue.pop() == b"called"


# ---- receipts: order-tolerant folding ------------------------------------------------------

SENT = MessageSent(
    message_id=MessageId("usa-1"),
    channel=CAMP_DAVID.channels_for(USA, _official("usa.ops").layer)[0].id,
    sender=Handle("usa.ops"),
    nation=USA,
    precedence=Precedence.FLASH,
    classification=Classification.SECRET,
    rel_to=(USA, JPN, NationCode("KOR")),
    body="Launch detected",
    sent_at=T0,
)

ReceiptEvent = MessageDelivered | MessageRead | MessageAcknowledged | MessageEscalated

times = st.floats(min_value=0.0, max_value=4 * 3600.0, allow_nan=False).map(lambda s: T0 + s)
jpn_handles = st.sampled_from([Handle("jpn.ops"), Handle("jpn.ops.2"), Handle("jpn.ops.3")])


def _event(kind: str, at: float, by: Handle, level: int) -> ReceiptEvent:
    mid = SENT.message_id
    if kind == "delivered":
        return MessageDelivered(message_id=mid, nation=JPN, at=at)
    if kind == "read":
        return MessageRead(message_id=mid, nation=JPN, by=by, at=at)
    if kind == "ack":
        return MessageAcknowledged(message_id=mid, nation=JPN, by=by, at=at)
    return MessageEscalated(
        message_id=mid, nation=JPN, level=level, notified=(by,), at=at, next_at=at + 600
    )


events = st.builds(
    _event,
    st.sampled_from(["delivered", "read", "ack", "escalated"]),
    times,
    jpn_handles,
    st.integers(1, 6),
)
event_lists = st.lists(events, max_size=25)


def _fold(evs: list[ReceiptEvent]) -> rules.MessageState:
    state = rules.start(CAMP_DAVID, SENT)
    for ev in evs:
        rules.apply(state, ev)
    return state


@given(event_lists)
def test_receipt_fields_fill_once_with_the_first_applied_value(evs: list[ReceiptEvent]) -> None:
    r = _fold(evs).receipts[JPN]
    acks = [e for e in evs if isinstance(e, MessageAcknowledged)]
    reads = [e for e in evs if isinstance(e, MessageRead | MessageAcknowledged)]
    deliveries = [e for e in evs if not isinstance(e, MessageEscalated)]
    assert (r.acked_at is not None) == bool(acks)
    if acks:
        assert (r.acked_at, r.acked_by) == (acks[0].at, acks[0].by)
        assert r.next_at is None
    if reads:
        assert r.read_at == reads[0].at
    else:
        assert r.read_at is None and r.read_by is None
    assert r.delivered_at == (deliveries[0].at if deliveries else None)


@given(event_lists, st.data())
def test_duplicates_change_nothing(evs: list[ReceiptEvent], data: st.DataObject) -> None:
    """Re-applying any already-applied events (a replayed federation batch) is a no-op."""
    once = _fold(evs).receipts[JPN]
    replay = data.draw(st.lists(st.sampled_from(evs), max_size=25)) if evs else []
    twice = _fold([*evs, *replay]).receipts[JPN]
    assert (twice.delivered_at, twice.read_at, twice.read_by) == (
        once.delivered_at,
        once.read_at,
        once.read_by,
    )
    assert (twice.acked_at, twice.acked_by) == (once.acked_at, once.acked_by)
    assert twice.level == once.level


@given(event_lists)
def test_escalation_level_never_decreases_and_stops_at_the_ack(evs: list[ReceiptEvent]) -> None:
    state = rules.start(CAMP_DAVID, SENT)
    level, acked = 0, False
    for ev in evs:
        before = rules.Receipt(**{f: getattr(state.receipts[JPN], f) for f in _FIELDS})
        rules.apply(state, ev)
        r = state.receipts[JPN]
        assert r.level >= level
        if acked and isinstance(ev, MessageEscalated):
            assert r == before  # after an ack an escalation changes nothing
        if isinstance(ev, MessageEscalated) and not acked:
            assert r.level == max(level, ev.level)
        level = r.level
        acked = acked or isinstance(ev, MessageAcknowledged)
    # the level is the highest escalation applied before the first ack
    first_ack = next((i for i, e in enumerate(evs) if isinstance(e, MessageAcknowledged)), len(evs))
    before_ack = [e.level for e in evs[:first_ack] if isinstance(e, MessageEscalated)]
    assert state.receipts[JPN].level == max(before_ack, default=0)


_FIELDS = tuple(rules.Receipt.__struct_fields__)


@given(event_lists, st.permutations(range(25)))
def test_permutations_agree_on_everything_but_who_came_first(
    evs: list[ReceiptEvent], perm: list[int]
) -> None:
    """Any permutation gives the same answers to 'was it delivered / read / acked?'; the
    sender nation's receipt and the other nations' receipts never move."""
    order = [evs[i] for i in perm if i < len(evs)]
    a, b = _fold(evs), _fold(order)
    ra, rb = a.receipts[JPN], b.receipts[JPN]
    assert (ra.delivered_at is None) == (rb.delivered_at is None)
    assert (ra.read_at is None) == (rb.read_at is None)
    assert (ra.acked_at is None) == (rb.acked_at is None)
    assert {e.at for e in evs if isinstance(e, MessageAcknowledged)} >= (
        {ra.acked_at, rb.acked_at} - {None}
    )
    fresh = rules.start(CAMP_DAVID, SENT)
    for n in (USA, NationCode("KOR")):
        assert a.receipts[n] == b.receipts[n] == fresh.receipts[n]


@given(st.floats(min_value=0.0, max_value=1e6, allow_nan=False))
def test_first_delivery_wins_whatever_its_time(at: float) -> None:
    """First-applied wins even for a time that is falsy (epoch 0)."""
    r = rules.Receipt(nation=JPN)
    rules.apply_receipt(r, MessageDelivered(message_id=SENT.message_id, nation=JPN, at=at))
    rules.apply_receipt(r, MessageDelivered(message_id=SENT.message_id, nation=JPN, at=at + 1))
    rules.apply_receipt(
        r, MessageRead(message_id=SENT.message_id, nation=JPN, by=Handle("jpn.ops"), at=at + 2)
    )
    assert r.delivered_at == at


# ---- delivered receipts: one per releasability --------------------------------------------

KOR = NationCode("KOR")
RELEASES = [(USA, JPN, KOR), (USA, JPN), (USA, KOR)]


@given(st.lists(st.tuples(st.integers(0, 9), st.integers(0, 2)), max_size=40))
def test_delivered_receipts_cover_each_message_once_and_only_where_it_may_go(
    arrivals: list[tuple[int, int]],
) -> None:
    """Whatever arrives (repeats included), each message is in exactly one receipt, and every
    message a receipt names may go everywhere the receipt goes (same ``rel_to``)."""
    by_id: dict[str, MessageSent] = {}
    arrived = []
    for n, release in arrivals:
        mid = MessageId(f"usa-{n}")
        # A message id has one releasability, whichever copy of it arrives.
        sent = by_id.setdefault(
            mid,
            MessageSent(
                message_id=mid,
                channel=ChannelId("ops.usa-jpn-kor"),
                sender=Handle("usa.ops"),
                nation=USA,
                precedence=Precedence.ROUTINE,
                classification=Classification.SECRET,
                rel_to=RELEASES[release],
                body=f"message {n}",
                sent_at=T0,
            ),
        )
        arrived.append(sent)
    receipts = rules.delivered_receipts(JPN, arrived, T0 + 1)
    covered = [m for body, _ in receipts for m in body.message_ids]
    assert sorted(covered) == sorted(by_id)
    for body, sents in receipts:
        assert body.nation == JPN and body.at == T0 + 1
        assert body.message_ids == tuple(s.message_id for s in sents)
        assert len({s.rel_to for s in sents}) == 1
    assert len(receipts) == len({s.rel_to for s in by_id.values()})
