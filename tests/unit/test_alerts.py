"""Automatic alerts (one per missile: raised, threat, updated, retracked, closed) and which
track summaries are worth an event."""

from __future__ import annotations

from typing import Any

import msgspec

from hotline.domain import alerts
from hotline.domain.alerts import AlertParams, decide, moved
from hotline.domain.ids import MessageId, NationCode
from hotline.domain.picture import PictureParams, due_updates, is_due
from hotline.domain.warning_events import ImpactEstimate, TrackUpdated

T0 = 1_790_000_000.0
NAMES = {NationCode("USA"): "United States", NationCode("JPN"): "Japan"}
P = AlertParams()


def impact(**changes: Any) -> ImpactEstimate:
    base: dict[str, Any] = {
        "lat": 39.7,
        "lon": 135.0,
        "time": T0 + 300.0,
        "time_sigma_s": 4.0,
        "semi_major_m": 20_000.0,
        "semi_minor_m": 8_000.0,
        "orientation_deg": 92.0,
        "territory": None,
    }
    return ImpactEstimate(**(base | changes))


def track(**changes: Any) -> TrackUpdated:
    base: dict[str, Any] = {
        "track_id": "trk-aa",
        "picture": "coalition",
        "status": "confirmed",
        "phase": "midcourse",
        "time": T0,
        "lat": 39.5,
        "lon": 128.0,
        "hae": 200_000.0,
        "velocity": (2500.0, 0.0, 100.0),
        "sigma_m": 150.0,
        "nations": (NationCode("KOR"), NationCode("USA")),
        "sources": ("KOR/greenpine-central", "USA/tpy2-kyogamisaki"),
        "n_reports": 12,
        "impact": impact(),
        "at": T0,
    }
    return TrackUpdated(**(base | changes))


def step(state: alerts.AlertState | None, t: TrackUpdated, now: float) -> alerts.AlertAction | None:
    return decide(state, t, now, P, message_id=MessageId(f"m-{now}"), names=NAMES)


def test_a_tentative_track_raises_nothing_a_confirmed_one_raises_a_flash() -> None:
    assert step(None, track(status="tentative"), T0) is None
    act = step(None, track(), T0)
    assert act is not None and act.kind == "raise" and act.flash is not None
    assert act.state.alert_id == "alr-aa" and act.state.message_id == f"m-{T0}"
    assert "AUTOMATIC MISSILE WARNING: launch detected, track trk-aa" in act.flash
    assert "in 300 s" in act.flash
    assert "outside every nation's territory and exclusive economic zone" in act.flash


def test_a_boost_phase_prediction_is_not_used() -> None:
    act = step(None, track(phase="boost", impact=impact(territory="JPN")), T0)
    assert act is not None and act.state.impact is None and act.state.threatened == ()
    assert act.flash is not None and "pending" in act.flash


def test_a_threat_to_a_party_flashes_once_per_party() -> None:
    raised = step(None, track(), T0)
    assert raised is not None
    threat = step(raised.state, track(impact=impact(territory="JPN", lon=137.0)), T0 + 1)
    assert threat is not None and threat.kind == "threat" and threat.flash is not None
    assert "IMPACT PREDICTED IN JAPAN (JPN)" in threat.flash
    assert threat.state.threatened == ("JPN",) and threat.state.revision == 1
    again = step(threat.state, track(impact=impact(territory="JPN", lon=137.0)), T0 + 20)
    assert again is None or again.kind == "update"


def test_launching_into_a_territory_names_it_in_the_first_flash() -> None:
    sea = impact(territory="JPN", zone="territorial_sea", zone_nation="JPN")
    act = step(None, track(impact=sea), T0)
    assert act is not None and act.state.threatened == ("JPN",)
    assert act.flash is not None and "in the territory of Japan (territorial sea)" in act.flash


def test_an_eez_or_a_non_party_raises_no_threat_but_is_named() -> None:
    raised = step(None, track(), T0)
    assert raised is not None
    eez = impact(lon=137.2, zone="eez", zone_nation="JPN")
    upd = step(raised.state, track(impact=eez), T0 + 6)
    assert upd is not None and upd.kind == "update" and upd.flash is None
    assert "exclusive economic zone of Japan" in alerts.impact_text(eez, T0, NAMES)
    prk = impact(lon=127.5, territory="PRK", zone="land", zone_nation="PRK")
    upd = step(raised.state, track(impact=prk), T0 + 6)
    assert upd is not None and upd.kind == "update" and upd.state.threatened == ()
    assert "in the territory of PRK (land)" in alerts.impact_text(prk, T0, NAMES)


def test_updates_are_rate_limited_and_only_for_real_changes() -> None:
    raised = step(None, track(), T0)
    assert raised is not None
    st = raised.state
    assert step(st, track(impact=impact(lat=39.71)), T0 + 10) is None  # 1 km: no news
    assert step(st, track(impact=impact(lat=40.5)), T0 + 2) is None  # too soon
    upd = step(st, track(impact=impact(lat=40.5)), T0 + 6)
    assert upd is not None and upd.kind == "update" and upd.flash is None
    assert upd.state.revision == 1 and upd.state.impact is not None
    phase = step(upd.state, track(phase="terminal", impact=impact(lat=40.5)), T0 + 12)
    assert phase is not None and phase.kind == "update"


def test_moved_thresholds() -> None:
    a = impact()
    assert not moved(a, a, P)
    assert moved(a, impact(time=T0 + 306), P)
    assert moved(a, impact(semi_major_m=30_000.0), P)
    assert moved(None, a, P) and moved(a, None, P) and not moved(None, None, P)


def test_the_alert_closes_when_the_track_ends_and_follows_a_merge() -> None:
    raised = step(None, track(), T0)
    assert raised is not None
    closed = step(raised.state, track(status="dropped"), T0 + 1)
    assert closed is not None and closed.kind == "closed" and closed.state.closed
    assert step(closed.state, track(), T0 + 2) is None
    merged = decide(
        raised.state,
        track(status="merged", merged_into="trk-bb"),
        T0 + 1,
        P,
        message_id=MessageId("m"),
        names=NAMES,
        states={"trk-aa": raised.state},
    )
    assert merged is not None and merged.kind == "retracked"
    assert merged.state.track_id == "trk-bb" and merged.state.alert_id == "alr-aa"


# ---- which summaries become events ---------------------------------------------------------


def test_due_updates_publish_confirmed_changes_at_a_bounded_rate() -> None:
    pp = PictureParams(min_interval_s=1.0)
    first = track()
    assert not is_due(track(status="tentative"), None, T0, pp)
    assert not is_due(track(status="dropped"), None, T0, pp)  # never shown: nothing to retract
    assert is_due(first, None, T0, pp)
    later = msgspec.structs.replace(first, time=T0 + 0.5, at=T0 + 0.5)
    assert not is_due(later, first, T0 + 0.5, pp)
    assert is_due(msgspec.structs.replace(later, phase="terminal"), first, T0 + 0.5, pp)
    assert is_due(
        msgspec.structs.replace(later, impact=impact(territory="JPN")), first, T0 + 0.5, pp
    )
    assert is_due(later, first, T0 + 1.0, pp)
    assert is_due(msgspec.structs.replace(first, status="dropped"), first, T0 + 0.1, pp)
    ended = msgspec.structs.replace(first, status="dropped")
    assert not is_due(ended, ended, T0 + 5, pp)
    assert due_updates({"trk-aa": later}, {"trk-aa": first}, T0 + 2, pp) == [later]
