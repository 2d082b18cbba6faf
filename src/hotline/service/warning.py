"""The warning service: sensor reports in, fused tracks and automatic alerts out.

Two paths, each "decide, then append in ONE writer transaction, then publish":

* **ingest** (``submit``): a batch of reports of this nation's sensors is checked whole
  (``domain.reports``), cut into ``ReportsReceived`` events of at most ``reports_per_event``
  reports, signed and appended in one job. Their ``rel_to`` follows the compact's
  ``raw_reports_to``, so the outbox takes them only to the parties allowed to hold them.
  Peers' raw reports arrive the same way through federation; both land in ``reports``.
* **fusion** (``run``): a loop woken by every ingest (and every ``tick_s``) reads the reports
  stored since its cursor, feeds them to the fuser (``hotline.tracks.fusion.Fuser``, in a worker
  thread so the event loop stays free), summarises the changed tracks, picks the updates that
  are due (``domain.picture``) and, on the track authority, the alert actions
  (``domain.alerts``), and appends them with their FLASH messages in one job.

After each commit, every track and alert event stored since the last publication (this node's
and its peers') goes to the officials' live streams and to the TAK clients (``add_sink``).

Fusion clock: the fuser's ``now`` follows the reports' own time (the newest report seen, then
advancing with the wall clock), so a recording replayed minutes behind real time is fused as
it was flown; live reports keep it at the wall clock. Reports more than ``MAX_FUTURE_S`` ahead
of the wall clock (a peer with a wrong clock) are left out of fusion and counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from hotline.bus.memory import Item, MemoryBus
from hotline.domain import alerts as alert_rules
from hotline.domain import hotline as rules
from hotline.domain.compact import Compact, Official
from hotline.domain.events import Envelope, EventBody, MessageSent
from hotline.domain.ids import Layer, MessageId, NationCode, Precedence
from hotline.domain.picture import (
    COALITION,
    ENDED,
    LOCAL,
    PictureParams,
    Territory,
    due_updates,
    summarize,
)
from hotline.domain.reports import MAX_FUTURE_S, ReportIn, check_report, check_reports
from hotline.domain.sharing import is_authority, raw_rel_to, tracks_rel_to
from hotline.domain.warning_events import (
    AlertRaised,
    AlertUpdated,
    ReportRecord,
    ReportsReceived,
    TrackUpdated,
)
from hotline.errors import HotlineError, Invalid
from hotline.ports import Clock, Store, new_id
from hotline.service.hotline import HotlineService
from hotline.service.views import iso
from hotline.service.warning_views import alert_view, track_view
from hotline.store import warning as store
from hotline.tracks.fusion import Fuser, FuserConfig, Report, Track

log = logging.getLogger("hotline.warning")

_json = msgspec.json.Encoder()

#: A TAK/CoT sink: told of every track or alert event published (own and peers').
Sink = Callable[[Sequence[Envelope]], None]


@dataclass(slots=True)
class WarningStats:
    reports_accepted: int = 0
    reports_fused: int = 0
    reports_skewed: int = 0
    reports_refused_by_fuser: int = 0
    cycles: int = 0
    track_events: int = 0
    alert_events: int = 0
    flash_sent: int = 0
    errors: int = 0
    last_error: str | None = None
    fuse_seconds: float = 0.0
    extra: dict[str, int] = field(default_factory=dict)


#: A point looked up when the fusion loop starts, to load the territory table before any launch.
WARM_POINT = (0.0, 0.0)


def territory_function() -> Territory:
    """``hotline.tracks.territory.territory_of`` as ``(nation, zone)``.

    Remembers the latest few thousand points: a track's impact is predicted every 2 s of its
    time and summarised up to every second, so half the look-ups (~0.1 ms each, mostly the
    nearest coast) are of a point already looked up."""
    from hotline.tracks.territory import territory_of

    @functools.lru_cache(maxsize=4096)
    def territory(lat: float, lon: float) -> tuple[NationCode | None, str | None]:
        place = territory_of(lat, lon)
        if place is None:
            return None, None
        return NationCode(place.nation), str(place.zone)

    return territory


class WarningService:
    """Reports, fusion, track picture and automatic alerts of one node."""

    def __init__(
        self,
        compact: Compact,
        nation: NationCode,
        store_: Store,
        bus: MemoryBus,
        hotline: HotlineService,
        clock: Clock,
        *,
        territory: Territory | None = None,
        fuser_config: FuserConfig | None = None,
        picture_params: PictureParams | None = None,
        alert_params: alert_rules.AlertParams | None = None,
        reports_per_event: int = 200,
        fuse_batch_max: int = 20_000,
        tick_s: float = 0.25,
        warmup_s: float = 120.0,
    ) -> None:
        self.compact = compact
        self.sharing = compact.sharing
        self.nation = nation
        self.store = store_
        self.bus = bus
        self.hotline = hotline
        self.clock = clock
        self.territory = territory or territory_function()
        self.fuser = Fuser(fuser_config)
        self.picture_params = picture_params or PictureParams()
        self.alert_params = alert_params or alert_rules.AlertParams()
        self.reports_per_event = reports_per_event
        self.fuse_batch_max = fuse_batch_max
        self.tick_s = tick_s
        self.warmup_s = warmup_s
        self.authority = is_authority(self.sharing, nation)
        #: The picture this node fuses, and the one it shows (streams, TAK, default GET).
        self.picture = COALITION if self.authority else LOCAL
        self.shown = COALITION if self.sharing.track_authority else LOCAL
        self.track_rel_to = tracks_rel_to(self.sharing, nation, compact.nations)
        self.report_rel_to = raw_rel_to(self.sharing, nation, compact.nations)
        self.names = {p.code: p.name for p in compact.parties}
        self.stats = WarningStats()
        self._latest: dict[str, TrackUpdated] = {}
        self._unsummarised: set[str] = set()
        self._published: dict[str, TrackUpdated] = {}
        self._alerts: dict[str, alert_rules.AlertState] = {}
        self._cursor = 0
        self._pub_cursor = 0
        self._data_t: float | None = None
        self._data_wall = 0.0
        self._fusion_now = 0.0
        self._sinks: list[Sink] = []
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._started = False

    # ---- ingest ---------------------------------------------------------------------------

    async def submit(self, items: Sequence[ReportIn], *, single: bool = False) -> dict[str, Any]:
        """Check and store reports of this nation's sensors; durable when it returns.

        Raises Invalid (422) naming the first bad report and field; nothing is stored then.
        """
        records = check_reports(items, self.nation, self.sharing, self.clock.now(), single=single)
        batch_ids = await self.store_records(records)
        return {"accepted": len(records), "nation": self.nation, "batches": batch_ids}

    def check_one(self, item: ReportIn, where: str = "") -> ReportRecord:
        """Check one report (the CoT port checks event by event)."""
        return check_report(item, self.nation, self.sharing, self.clock.now(), where)

    async def store_records(self, records: Sequence[ReportRecord]) -> list[str]:
        """Append checked records as ``ReportsReceived`` events in ONE job; their batch ids."""
        if not records:
            return []
        now = self.clock.now()
        size = self.reports_per_event
        envs = []
        for lo in range(0, len(records), size):
            body = ReportsReceived(
                batch_id=new_id(f"rep-{self.nation.lower()}"),
                nation=self.nation,
                reports=tuple(records[lo : lo + size]),
                at=now,
            )
            envs.append(self.hotline.envelope(body, self.report_rel_to, now))
        projector = self.hotline.projector
        await self.store.run(lambda conn: projector.append(conn, envs))
        self.stats.reports_accepted += len(records)
        self.wake()
        self.hotline.on_commit()
        return [e.body.batch_id for e in envs if isinstance(e.body, ReportsReceived)]

    # ---- waking the fusion loop --------------------------------------------------------------

    def wake(self) -> None:
        """From the event loop: something to fuse or publish."""
        if self._wake is not None:
            self._wake.set()

    def wake_threadsafe(self) -> None:
        """From any thread (the writer, applying a peer's events): wake the loop."""
        loop, event = self._loop, self._wake
        if loop is not None and event is not None and not loop.is_closed():
            loop.call_soon_threadsafe(event.set)

    def add_sink(self, sink: Sink) -> None:
        self._sinks.append(sink)

    def remove_sink(self, sink: Sink) -> None:
        if sink in self._sinks:
            self._sinks.remove(sink)

    # ---- the loop ------------------------------------------------------------------------------

    def start(self) -> None:
        """Load the published picture and alerts, set the cursors (restart warm-up)."""
        if self._started:
            return
        self._started = True
        reader = self.store.reader
        wall = self.clock.now()
        self._cursor = store.cursor_before_time(reader, wall - self.warmup_s)
        self._pub_cursor = store.last_event_seq(reader)
        for t in store.load_tracks(reader, self.picture):
            self._latest[t.track_id] = t
            self._published[t.track_id] = t
        if self.authority:
            for row in store.load_alerts(reader, open_only=True):
                if row["origin"] == self.nation:
                    state = _state_of(row)
                    self._alerts[state.track_id] = state

    async def run(self) -> None:
        """Fuse and publish until cancelled."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self.start()
        # The first launch after a start must not wait for the coastline table, which the
        # first territory look-up loads (0.15 s here: the first alert took 0.17 s to reach
        # the three ops centres, a warm one 0.02 s): load it now, off the loop.
        # A table that cannot load is logged, not fatal: the cycle's own look-ups meet it
        # again, and a failed cycle is retried (``cycle_once``).
        try:
            await asyncio.to_thread(self.territory, *WARM_POINT)
        except (OSError, ValueError, ArithmeticError):
            log.exception("the territory table did not load at start (tried again when used)")
        while True:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.tick_s):
                    await self._wake.wait()
            self._wake.clear()
            await self.cycle_once()

    async def cycle_once(self) -> int:
        """One fusion cycle and publication; returns the number of reports fused.

        A store failure is logged and retried at the next cycle: the alert decisions are taken
        again from the latest track states, so a failed commit delays an alert, never loses it.
        """
        self.start()
        try:
            fused = await self._cycle()
        except (HotlineError, sqlite3.Error, ValueError, ArithmeticError) as exc:
            # Fusion must not take the hotline down with it; the next cycle retries.
            self.stats.errors += 1
            self.stats.last_error = f"{type(exc).__name__}: {exc}"
            log.exception("warning cycle failed (retried at the next cycle)")
            fused = 0
        self._publish_new()
        return fused

    async def drain(self, max_cycles: int = 1000) -> None:
        """Cycle until every stored report is fused (tests, benchmarks)."""
        for _ in range(max_cycles):
            await self.cycle_once()
            if self._cursor >= store.last_report_id(self.store.reader):
                return

    async def _cycle(self) -> int:
        rows = store.reports_after(self.store.reader, self._cursor, self.fuse_batch_max)
        wall = self.clock.now()
        reports: list[Report] = []
        for r in rows:
            if r[4] > wall + MAX_FUTURE_S:
                self.stats.reports_skewed += 1
                continue
            reports.append(
                Report(
                    uid=r[3],
                    nation=r[1],
                    sensor=r[2],
                    time=r[4],
                    lat=r[5],
                    lon=r[6],
                    hae=r[7],
                    ce=r[8],
                    le=r[9],
                )
            )
        now = self._advance_clock(wall, max((r.time for r in reports), default=None))
        if rows:
            self._cursor = rows[-1][0]
        for summary in await asyncio.to_thread(self._fuse, reports, now, wall):
            self._latest[summary.track_id] = summary
        self._sweep_orphans(now, wall)
        updates = due_updates(self._latest, self._published, wall, self.picture_params)
        actions = self._alert_actions(now) if self._alerting else []
        if updates or actions:
            await self._commit(updates, actions, wall, now)
        for tid in [t for t, s in self._latest.items() if s.status in ENDED]:
            if tid not in self._published:  # ended before it was ever shown
                del self._latest[tid]
        self.stats.cycles += 1
        self.stats.reports_fused += len(reports)
        return len(reports)

    @property
    def _alerting(self) -> bool:
        return self.authority and self.sharing.alert_channel is not None

    def _advance_clock(self, wall: float, newest: float | None) -> float:
        """The fusion clock (module docstring)."""
        base = self._data_t + (wall - self._data_wall) if self._data_t is not None else None
        if newest is None and base is None:
            now = wall
        else:
            now = max(x for x in (base, newest) if x is not None)
            self._data_t, self._data_wall = now, wall
        self._fusion_now = now
        return now

    def fusion_now(self) -> float:
        return self._fusion_now or self.clock.now()

    def _fuse(self, reports: list[Report], now: float, wall: float) -> list[TrackUpdated]:
        """The fuser's step and the summaries of the changed tracks (in a worker thread: the
        numerics and the territory look-ups stay off the event loop). A batch the fuser
        refuses is fed report by report."""
        started = time.perf_counter()
        try:
            changed = self.fuser.ingest(reports, now)
        except Invalid:
            changed_by_id: dict[str, Track] = {}
            for rep in reports:
                try:
                    for t in self.fuser.ingest([rep], now):
                        changed_by_id[t.id] = t
                except Invalid as exc:
                    self.stats.reports_refused_by_fuser += 1
                    log.warning("fuser refused report %s/%s: %s", rep.nation, rep.uid, exc)
            changed = list(changed_by_id.values())
        self.stats.fuse_seconds += time.perf_counter() - started
        return self._summaries(changed, wall)

    def _summaries(self, changed: list[Track], wall: float) -> list[TrackUpdated]:
        """Summaries of the changed tracks, each at most once per ``min_interval_s`` unless its
        status or phase changed (a summary looks up the impact's territory: ~0.1 ms)."""
        interval = self.picture_params.min_interval_s
        out: list[TrackUpdated] = []
        for t in changed:
            prev = self._latest.get(t.id)
            if (
                prev is not None
                and prev.status == str(t.status)
                and prev.phase == str(t.phase)
                and wall - prev.at < interval
            ):
                self._unsummarised.add(t.id)  # summarised once the interval has passed
                continue
            self._unsummarised.discard(t.id)
            out.append(summarize(t, self.picture, self.territory, wall))
        due = [
            tid
            for tid in self._unsummarised
            if tid not in self._latest or wall - self._latest[tid].at >= interval
        ]
        if due:
            live = {t.id: t for t in self.fuser.tracks()}
            for tid in due:
                self._unsummarised.discard(tid)
                if tid in live:
                    out.append(summarize(live[tid], self.picture, self.territory, wall))
        return out

    def _sweep_orphans(self, now: float, wall: float) -> None:
        """Tracks shown before a restart that the fuser no longer has end as dropped."""
        if not self._latest:
            return
        coast = self.fuser.config.max_coast_s
        live: set[str] | None = None
        for tid, t in list(self._latest.items()):
            if t.status in ENDED or now - t.time <= coast + 5.0:
                continue
            if live is None:
                live = {x.id for x in self.fuser.tracks()}
            if tid not in live:
                self._latest[tid] = msgspec.structs.replace(t, status="dropped", at=wall)

    def _alert_actions(self, now: float) -> list[alert_rules.AlertAction]:
        actions: list[alert_rules.AlertAction] = []
        states = dict(self._alerts)
        for tid, t in self._latest.items():
            state = states.get(tid)
            action = alert_rules.decide(
                state,
                t,
                now,
                self.alert_params,
                message_id=MessageId(new_id(self.nation.lower())),
                names=self.names,
                states=states,
            )
            if action is None:
                continue
            actions.append(action)
            states.pop(tid, None)
            states[action.state.track_id] = action.state
        return actions

    async def _commit(
        self,
        updates: list[TrackUpdated],
        actions: list[alert_rules.AlertAction],
        wall: float,
        now: float,
    ) -> None:
        envs: list[Envelope] = [self._envelope(u, self.track_rel_to, wall) for u in updates]
        messages: list[tuple[Envelope, MessageSent]] = []
        for action in actions:
            alert_envs, sent = self._alert_envelopes(action, wall)
            envs.extend(alert_envs)
            messages.extend(sent)
        projector = self.hotline.projector
        await self.store.run(lambda conn: projector.append(conn, envs))
        # Durable: now the in-memory picture may move on.
        for u in updates:
            if u.status in ENDED:
                self._published.pop(u.track_id, None)
                self._latest.pop(u.track_id, None)
            else:
                self._published[u.track_id] = u
        for action in actions:
            old_tid = next(
                (k for k, s in self._alerts.items() if s.alert_id == action.state.alert_id), None
            )
            if old_tid is not None:
                del self._alerts[old_tid]
            if not action.state.closed:
                self._alerts[action.state.track_id] = action.state
        self.stats.track_events += len(updates)
        self.stats.alert_events += len(actions)
        self.stats.flash_sent += len(messages)
        if messages:
            self.hotline.publish(messages)
        self.hotline.on_commit()

    def _envelope(self, body: EventBody, rel_to: Sequence[NationCode], at: float) -> Envelope:
        return self.hotline.envelope(body, rel_to, at)

    def _alert_envelopes(
        self, action: alert_rules.AlertAction, wall: float
    ) -> tuple[list[Envelope], list[tuple[Envelope, MessageSent]]]:
        """The alert event, and the FLASH message first when the action sends one."""
        channel = self.compact.channel(self.sharing.alert_channel)  # type: ignore[arg-type]
        assert channel is not None  # the compact loader checked it
        sender = self.compact.principal(self.nation, Layer(channel.layer))
        out: list[Envelope] = []
        messages: list[tuple[Envelope, MessageSent]] = []
        st = action.state
        message_id: MessageId | None = None
        if action.flash is not None and sender is not None:
            message_id = (
                st.message_id
                if action.kind == alert_rules.RAISE
                else MessageId(new_id(self.nation.lower()))
            )
            sent = rules.compose(
                self.compact,
                sender,
                channel.id,
                message_id=message_id,
                precedence=Precedence.FLASH.value,
                body=action.flash,
                classification=self.sharing.classification.value,
                rel_to=None,
                template="missile-warning",
                now=wall,
            )
            env = self.hotline.envelope(sent, sent.rel_to, wall)
            out.append(env)
            messages.append((env, sent))
        rel_to = channel.members
        body: AlertRaised | AlertUpdated
        if action.kind == alert_rules.RAISE:
            body = AlertRaised(
                alert_id=st.alert_id,
                track_id=st.track_id,
                channel=channel.id,
                message_id=st.message_id,
                phase=st.phase,
                impact=st.impact,
                threatened=st.threatened,
                at=wall,
            )
        else:
            body = AlertUpdated(
                alert_id=st.alert_id,
                track_id=st.track_id,
                revision=st.revision,
                kind=action.kind,
                phase=st.phase,
                impact=st.impact,
                threatened=st.threatened,
                message_id=message_id,
                at=wall,
            )
        out.append(self.hotline.envelope(body, rel_to, wall))
        return out, messages

    # ---- publication to streams and TAK clients ------------------------------------------

    def _publish_new(self, limit: int = 1000) -> None:
        while True:
            self._pub_cursor, rows = store.published_after(
                self.store.reader, self._pub_cursor, limit
            )
            shown = [env for _, env in rows if self._is_shown(env)]
            if shown:
                self.bus.publish([item for env in shown if (item := self._item(env)) is not None])
                for sink in list(self._sinks):
                    sink(shown)
            if len(rows) < limit:
                return

    def _is_shown(self, env: Envelope) -> bool:
        body = env.body
        if isinstance(body, TrackUpdated):
            return body.picture == self.shown
        return isinstance(body, AlertRaised | AlertUpdated)

    def _cleared(self, o: Official) -> bool:
        return o.clearance.level >= self.sharing.classification.level

    def _item(self, env: Envelope) -> Item | None:
        body = env.body
        now = self.fusion_now()
        if isinstance(body, TrackUpdated):
            payload = {"type": "track", **track_view(body, env.origin, now)}
            return Item(Precedence.PRIORITY.rank, _json.encode(payload), self._cleared)
        if isinstance(body, AlertRaised | AlertUpdated):
            view = alert_view(body, env.origin, now)
            rank = (
                Precedence.FLASH.rank
                if view["kind"] in ("raised", "threat")
                else Precedence.IMMEDIATE.rank
            )
            return Item(rank, _json.encode(view), self._cleared)
        return None

    # ---- queries ---------------------------------------------------------------------------

    def tracks(self, picture: str | None = None, *, live_only: bool = True) -> list[dict[str, Any]]:
        """The tracks of ``picture`` (default: the shown one) in the API.md shape."""
        pic = picture or self.shown
        if pic not in (COALITION, LOCAL):
            raise Invalid(f"picture {pic!r} is not one of coalition, local", code="bad_picture")
        now = self.fusion_now()
        rows = self.store.reader.execute(
            "SELECT origin, raw FROM tracks WHERE picture = ?"
            + (" AND status NOT IN ('merged', 'dropped')" if live_only else "")
            + " ORDER BY event_seq",
            (pic,),
        ).fetchall()
        decoder = msgspec.json.Decoder(TrackUpdated)
        return [track_view(decoder.decode(raw), str(origin), now) for origin, raw in rows]

    def alerts(self, *, open_only: bool = True) -> list[dict[str, Any]]:
        now = self.fusion_now()
        out = []
        for row in store.load_alerts(self.store.reader, open_only=open_only):
            view = alert_view(row["latest"], row["origin"], now)
            view["message_id"] = row["message_id"]
            view["channel"] = row["channel"]
            view["raised_at"] = iso(row["raised_at"])
            view["closed"] = row["closed"]
            out.append(view)
        return out

    def status(self) -> dict[str, Any]:
        s = self.stats
        return {
            "nation": self.nation,
            "authority": self.sharing.track_authority,
            "fuses": self.picture,
            "shows": self.shown,
            "raw_reports_to": list(self.report_rel_to),
            "tracks_to": list(self.track_rel_to),
            "reports_accepted": s.reports_accepted,
            "reports_fused": s.reports_fused,
            "reports_skewed": s.reports_skewed,
            "track_events": s.track_events,
            "alert_events": s.alert_events,
            "flash_sent": s.flash_sent,
            "errors": s.errors,
            "last_error": s.last_error,
            "fuser": dict(self.fuser.stats),
        }


def _state_of(row: dict[str, Any]) -> alert_rules.AlertState:
    latest = row["latest"]
    revision = 0 if isinstance(latest, AlertRaised) else latest.revision
    return alert_rules.AlertState(
        alert_id=row["alert_id"],
        track_id=row["track_id"],
        message_id=MessageId(row["message_id"]),
        raised_at=float(row["raised_at"]),
        revision=revision,
        updated_at=float(row["updated_at"]),
        phase=latest.phase,
        impact=latest.impact,
        threatened=tuple(latest.threatened),
        closed=bool(row["closed"]),
    )
