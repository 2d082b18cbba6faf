"""Sharing rules of the compact: who may hold raw reports, tracks and alerts, and the loader's
checks of the ``[sharing]`` section."""

from __future__ import annotations

import pytest

from hotline.compacts import CompactError, load_compact, parse_compact
from hotline.domain.events import Envelope
from hotline.domain.ids import EventId, NationCode
from hotline.domain.releasability import may_hold, peers_for
from hotline.domain.service_accounts import service_account, service_accounts_of
from hotline.domain.sharing import holds_raw_reports_of, raw_rel_to, tracks_rel_to
from hotline.domain.warning_events import ReportRecord, ReportsReceived

CD = load_compact("camp-david")
USA, JPN, KOR = NationCode("USA"), NationCode("JPN"), NationCode("KOR")


def test_camp_david_raw_reports_go_to_the_united_states_only() -> None:
    s = CD.sharing
    assert raw_rel_to(s, JPN, CD.nations) == (USA, JPN)
    assert raw_rel_to(s, KOR, CD.nations) == (USA, KOR)
    assert raw_rel_to(s, USA, CD.nations) == (USA,)
    assert holds_raw_reports_of(s, USA, CD.nations) == (USA, JPN, KOR)
    assert holds_raw_reports_of(s, KOR, CD.nations) == (KOR,)


def test_the_authority_shares_tracks_with_all_and_local_pictures_stay_home() -> None:
    s = CD.sharing
    assert (s.track_authority, s.alert_channel) == (USA, "ops.usa-jpn-kor")
    assert tracks_rel_to(s, USA, CD.nations) == (USA, JPN, KOR)
    assert tracks_rel_to(s, JPN, CD.nations) == (JPN,)


def test_egress_and_ingress_follow_the_rule() -> None:
    body = ReportsReceived(
        batch_id="rep-jpn-1",
        nation=JPN,
        reports=(ReportRecord("fps5-sado.m1", "fps5-sado", 1.0, 1.0, 1.0, 1.0, 1.0, 1.0),),
        at=1.0,
    )
    env = Envelope(
        id=EventId("e-1"), origin=JPN, at=1.0, rel_to=raw_rel_to(CD.sharing, JPN, CD.nations),
        body=body,
    )  # fmt: skip
    assert peers_for(env, JPN, CD.nations) == [USA]  # egress: only the US stream carries it
    assert may_hold(USA, env) and not may_hold(KOR, env)  # ingress: KOR would refuse it


def test_camp_david_lists_each_nations_sensors() -> None:
    s = CD.sharing
    assert {x.id for x in s.sensors_of(USA)} >= {"tpy2-kyogamisaki", "tpy2-shariki"}
    assert s.sensor(USA, "tpy2-kyogamisaki").host == "JPN"  # type: ignore[union-attr]
    assert s.sensor(JPN, "fps5-sado") is not None
    assert s.sensor(KOR, "greenpine-central") is not None
    assert s.sensor(KOR, "fps5-sado") is None  # JPN's, not KOR's


def test_a_compact_without_sharing_shares_nothing() -> None:
    nato = load_compact("nato-32")
    assert nato.sharing.track_authority is None and not nato.sharing.sensors
    assert raw_rel_to(nato.sharing, NationCode("FRA"), nato.nations) == ("FRA",)


def test_service_accounts_are_per_party_and_not_officials() -> None:
    acc = service_account(CD, "kor.sensors")
    assert acc is not None and acc.nation == KOR and acc.may("reports:post")
    assert acc.may("tracks:read") and not acc.may("messages:send")
    assert service_account(CD, "xyz.sensors") is None
    assert service_account(CD, "KOR.sensors") is None
    assert service_account(CD, "kor.ops") is None
    assert CD.official("kor.sensors") is None  # type: ignore[arg-type]
    assert [a.handle for a in service_accounts_of(CD, JPN)] == ["jpn.sensors"]


# ---- the loader ------------------------------------------------------------------------------

BASE = """\
id = "tri"
title = "Three"
layers = ["leaders", "ops"]

[[parties]]
code = "AAA"
name = "Alpha"

[[parties]]
code = "BBB"
name = "Bravo"

[[parties]]
code = "CCC"
name = "Charlie"

[official_defaults]
leaders = ["{name} Leader"]
ops = ["{name} Ops"]
"""

SHARING = """
[sharing]
raw_reports_to = ["AAA"]
tracks_to = "all"
track_authority = "AAA"
alert_channel = "ops.aaa-bbb-ccc"

[[sharing.sensors]]
id = "r1"
nation = "BBB"
kind = "radar"
name = "Radar one"
lat = 35.0
lon = 135.0
"""


def test_a_sharing_section_loads() -> None:
    c = parse_compact(BASE + SHARING, "tri.toml")
    assert c.sharing.raw_reports_to == {"AAA": (), "BBB": ("AAA",), "CCC": ("AAA",)}
    assert c.sharing.sensors[0].hae == 0.0


def test_raw_reports_to_may_differ_per_origin() -> None:
    text = BASE + SHARING.replace(
        'raw_reports_to = ["AAA"]', 'raw_reports_to = { BBB = ["AAA", "CCC"], CCC = ["AAA"] }'
    )
    c = parse_compact(text, "tri.toml")
    assert raw_rel_to(c.sharing, NationCode("BBB"), c.nations) == ("AAA", "BBB", "CCC")
    assert raw_rel_to(c.sharing, NationCode("AAA"), c.nations) == ("AAA",)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('raw_reports_to = ["AAA"]', 'raw_reports_to = ["AAA", "ZZZ"]', "not a party"),
        ('raw_reports_to = ["AAA"]', 'raw_reports_to = ["BBB"]', "does not receive CCC's"),
        ('raw_reports_to = ["AAA"]', "raw_reports_to = 3", 'expected "all"'),
        ('track_authority = "AAA"', 'track_authority = "QQQ"', "not a party"),
        ('alert_channel = "ops.aaa-bbb-ccc"', 'alert_channel = "ops.zzz"', "not a channel"),
        ('alert_channel = "ops.aaa-bbb-ccc"', 'alert_channel = "ops.bbb-ccc"', "does not include"),
        ('tracks_to = "all"', 'tracks_to = ["AAA", "BBB"]', "tracks_to leaves out"),
        ('kind = "radar"', 'kind = "laser"', "not a sensor kind"),
        ("lat = 35.0", "lat = 95.0", "out of range"),
        ("lat = 35.0", 'lat = "north"', "expected a number"),
        ('name = "Radar one"', 'name = "Radar one"\nhost = "BBB"', "own nation"),
        ('id = "r1"', 'id = "R 1"', "not a valid sensor id"),
        ("[sharing]", "[sharing]\ncolour = 1", "unknown key"),
    ],
)
def test_mistakes_in_sharing_are_named(old: str, new: str, message: str) -> None:
    text = BASE + SHARING.replace(old, new, 1)
    with pytest.raises(CompactError) as err:
        parse_compact(text, "tri.toml")
    assert message in str(err.value)
    assert "sharing" in str(err.value)


def test_a_sensor_listed_twice_is_refused() -> None:
    twice = SHARING + SHARING[SHARING.index("[[sharing.sensors]]") :]
    with pytest.raises(CompactError, match="already defined"):
        parse_compact(BASE + twice, "tri.toml")
