"""Sensor reports: what is accepted, and the specific error that names each bad field."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from hotline.api.warning import decode_reports
from hotline.compacts import load_compact
from hotline.domain.ids import NationCode
from hotline.domain.reports import (
    MAX_AGE_S,
    MAX_FUTURE_S,
    MAX_REPORTS_PER_REQUEST,
    ReportIn,
    check_report,
    check_reports,
)
from hotline.errors import BadRequest, Invalid, TooLarge

SHARING = load_compact("camp-david").sharing
JPN = NationCode("JPN")
NOW = 1_790_000_000.0


def report(**changes: Any) -> ReportIn:
    base: dict[str, Any] = {
        "uid": "fps5-sado.m1",
        "sensor": "fps5-sado",
        "time": NOW - 1.0,
        "lat": 39.2,
        "lon": 125.7,
        "hae": 16_000.0,
        "ce": 320.0,
        "le": 320.0,
    }
    return msgspec.convert(base | changes, ReportIn)


def test_a_good_report_becomes_a_record() -> None:
    rec = check_report(report(), JPN, SHARING, NOW)
    assert (rec.uid, rec.sensor, rec.time, rec.lat, rec.ce) == (
        "fps5-sado.m1",
        "fps5-sado",
        NOW - 1.0,
        39.2,
        320.0,
    )


@pytest.mark.parametrize(
    ("text", "epoch"),
    [
        ("2026-11-22T21:13:31.5Z", 1_795_382_011.5),
        ("2026-11-23T06:13:31.5+09:00", 1_795_382_011.5),
    ],
)
def test_iso_times_with_an_offset_are_accepted(text: str, epoch: float) -> None:
    rec = check_report(report(time=text), JPN, SHARING, epoch + 1)
    assert rec.time == pytest.approx(epoch)


def test_cot_unknown_errors_are_accepted() -> None:
    rec = check_report(report(ce=9_999_999.0, le=9_999_999.0), JPN, SHARING, NOW)
    assert rec.ce == 9_999_999.0


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"lat": 90.5}, "out_of_range", "lat"),
        ({"lat": -91.0}, "out_of_range", "lat"),
        ({"lon": 180.01}, "out_of_range", "lon"),
        ({"hae": -20_000.0}, "out_of_range", "hae"),
        ({"hae": 1e9}, "out_of_range", "hae"),
        ({"ce": 0.0}, "out_of_range", "ce"),
        ({"le": -5.0}, "out_of_range", "le"),
        ({"ce": 1e8}, "out_of_range", "ce"),
        ({"time": NOW - MAX_AGE_S - 1}, "stale_report", "time"),
        ({"time": NOW + MAX_FUTURE_S + 1}, "future_report", "time"),
        ({"time": NOW * 1000}, "future_report", "milliseconds"),
        ({"time": "yesterday"}, "bad_time", "time"),
        ({"time": "2026-11-22T21:13:31"}, "bad_time", "UTC offset"),
        ({"sensor": "tpy2-kyogamisaki"}, "unknown_sensor", "sensor"),  # a US sensor
        ({"sensor": "nope"}, "unknown_sensor", "sensor"),
        ({"uid": ""}, "bad_uid", "uid"),
        ({"uid": "x" * 129}, "bad_uid", "uid"),
        ({"uid": "a\nb"}, "bad_uid", "uid"),
        ({"nation": "KOR"}, "wrong_nation", "nation"),
    ],
)
def test_each_bad_field_gets_its_own_error(changes: dict[str, Any], code: str, field: str) -> None:
    with pytest.raises(Invalid) as err:
        check_report(report(**changes), JPN, SHARING, NOW)
    assert err.value.code == code
    assert field in err.value.message


def test_non_finite_numbers_are_refused() -> None:
    for name in ("lat", "lon", "hae", "ce", "le"):
        with pytest.raises(Invalid, match=name):
            check_report(report(**{name: float("nan")}), JPN, SHARING, NOW)
    with pytest.raises(Invalid, match="time"):
        check_report(report(time=float("inf")), JPN, SHARING, NOW)


def test_a_batch_names_the_report_and_is_all_or_nothing() -> None:
    items = [report(), report(uid="m2"), report(uid="m3", lat=95.0)]
    with pytest.raises(Invalid, match=r"reports\[2\]\.lat"):
        check_reports(items, JPN, SHARING, NOW, single=False)
    with pytest.raises(Invalid, match="no reports"):
        check_reports([], JPN, SHARING, NOW, single=False)
    with pytest.raises(TooLarge):
        check_reports([report()] * (MAX_REPORTS_PER_REQUEST + 1), JPN, SHARING, NOW, single=False)
    assert len(check_reports(items[:2], JPN, SHARING, NOW, single=False)) == 2


def test_the_body_is_one_object_or_a_list() -> None:
    one = msgspec.json.encode(msgspec.structs.asdict(report()))
    items, single = decode_reports(one)
    assert single and len(items) == 1
    items, single = decode_reports(b"[" + one + b"," + one + b"]")
    assert not single and len(items) == 2


@pytest.mark.parametrize(
    ("body", "code", "where"),
    [
        (b"{", "malformed_json", "JSON"),
        (b'{"uid": "a"}', "missing_field", "sensor"),
        (
            b'[{"uid": "a", "sensor": "s", "time": 1, "lat": "n", "lon": 1, "hae": 1, "ce": 1, '
            b'"le": 1}]',
            "invalid_field",
            "$[0].lat",
        ),
        (
            b'{"uid": "a", "sensor": "s", "time": 1, "lat": true, "lon": 1, "hae": 1, "ce": 1, '
            b'"le": 1}',
            "invalid_field",
            "lat",
        ),
        (
            b'{"uid": "a", "sensor": "s", "time": 1, "lat": 1, "lon": 1, "hae": 1, "ce": 1, '
            b'"le": 1, "speed": 3}',
            "unknown_field",
            "speed",
        ),
        (b"42", "invalid_field", "body"),
    ],
)
def test_malformed_bodies_are_400_naming_the_field(body: bytes, code: str, where: str) -> None:
    with pytest.raises(BadRequest) as err:
        decode_reports(body)
    assert err.value.code == code
    assert where in err.value.message
