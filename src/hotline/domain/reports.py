"""Sensor reports as they arrive (JSON API or CoT), and the checks that make them records.

A report means what a Cursor-on-Target point means: ``lat``/``lon`` degrees WGS-84, ``hae``
metres height above the WGS-84 ellipsoid, ``ce`` the 1-sigma circular (horizontal) error and
``le`` the 1-sigma linear (vertical) error in metres (CoT's "unknown", 9999999, is accepted
and counted as unusable by the fuser). ``time`` is ISO 8601 with a UTC offset
(``2026-11-22T21:13:31.5Z``) or seconds since the Unix epoch. ``uid`` names the object the
sensor reports on (CoT ``uid``); ``sensor`` a sensor of the caller's nation that the compact
lists (``[[sharing.sensors]]``).

The limits are constants of this module (``docs/warning-data.md`` lists them). A batch is
checked whole before anything is stored: the first bad field raises ``Invalid`` naming the
report and field, and nothing changes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Final

import msgspec

from hotline.domain.ids import NationCode
from hotline.domain.sharing import Sharing
from hotline.domain.warning_events import ReportRecord
from hotline.errors import Invalid, TooLarge

#: A report older than this (s, by the node's clock) is stale and refused.
MAX_AGE_S: Final = 600.0
#: A report this far (s) ahead of the node's clock is refused (clock error or wrong units).
MAX_FUTURE_S: Final = 30.0
#: Longest ``uid`` (characters).
MAX_UID_CHARS: Final = 128
#: Most reports in one request (one POST or one CoT read).
MAX_REPORTS_PER_REQUEST: Final = 10_000
#: CoT's value for an unknown circular or linear error.
COT_UNKNOWN_ERROR_M: Final = 9_999_999.0
#: Heights above the ellipsoid a report may have (m): deep ocean floor to far above any orbit.
HAE_MIN_M: Final = -12_000.0
HAE_MAX_M: Final = 5.0e7

_RANGES: Final = (
    ("lat", -90.0, 90.0, "degrees WGS-84"),
    ("lon", -180.0, 180.0, "degrees WGS-84"),
    ("hae", HAE_MIN_M, HAE_MAX_M, "metres above the WGS-84 ellipsoid"),
)


class ReportIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The JSON shape of ``POST /api/v1/reports`` (one object, or a list of them)."""

    uid: str
    sensor: str
    time: str | float
    lat: float
    lon: float
    hae: float
    ce: float
    le: float
    #: Optional; when given it must be the caller's nation (recorded files carry it).
    nation: str | None = None


def parse_time(value: str | float, field: str) -> float:
    """ISO 8601 with an offset, or epoch seconds -> epoch seconds; Invalid naming ``field``."""
    if isinstance(value, str):
        text = value.strip()
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            raise Invalid(
                f"{field} = {value!r} is not an ISO 8601 time (e.g. '2026-11-22T21:13:31.5Z') "
                "or epoch seconds",
                code="bad_time",
            ) from None
        if dt.tzinfo is None:
            raise Invalid(
                f"{field} = {value!r} has no UTC offset; add 'Z' or '+09:00'", code="bad_time"
            )
        return dt.timestamp()
    t = float(value)
    if not math.isfinite(t):
        raise Invalid(f"{field} = {value!r} is not a finite time", code="bad_time")
    return t


def check_report(
    item: ReportIn, nation: NationCode, sharing: Sharing, now: float, where: str = ""
) -> ReportRecord:
    """One report of ``nation``'s sensors as a record; raises Invalid naming ``where+field``."""
    if item.nation is not None and item.nation != nation:
        raise Invalid(
            f"{where}nation = {item.nation!r}: reports posted to {nation}'s node are {nation}'s",
            code="wrong_nation",
        )
    uid = item.uid
    if not uid.strip() or len(uid) > MAX_UID_CHARS or not uid.isprintable():
        raise Invalid(
            f"{where}uid = {uid[:40]!r} must be 1..{MAX_UID_CHARS} printable characters",
            code="bad_uid",
        )
    if sharing.sensor(nation, item.sensor) is None:
        known = ", ".join(s.id for s in sharing.sensors_of(nation)) or "none"
        raise Invalid(
            f"{where}sensor = {item.sensor[:40]!r} is not a sensor of {nation} in the compact "
            f"(known: {known})",
            code="unknown_sensor",
        )
    t = parse_time(item.time, f"{where}time")
    if t < now - MAX_AGE_S:
        raise Invalid(
            f"{where}time = {item.time!r} is {now - t:.0f} s old; reports older than "
            f"{MAX_AGE_S:.0f} s are stale",
            code="stale_report",
        )
    if t > now + MAX_FUTURE_S:
        hint = " (epoch milliseconds? send seconds)" if t > now * 100 else ""
        raise Invalid(
            f"{where}time = {item.time!r} is {t - now:.0f} s ahead of the node's clock; at most "
            f"{MAX_FUTURE_S:.0f} s{hint}",
            code="future_report",
        )
    for name, lo, hi, unit in _RANGES:
        v = getattr(item, name)
        if not (math.isfinite(v) and lo <= v <= hi):
            raise Invalid(
                f"{where}{name} = {v!r} is out of range {lo:g}..{hi:g} ({unit})",
                code="out_of_range",
            )
    for name in ("ce", "le"):
        v = getattr(item, name)
        if not (math.isfinite(v) and 0.0 < v <= COT_UNKNOWN_ERROR_M):
            raise Invalid(
                f"{where}{name} = {v!r} must be a 1-sigma error in metres, > 0 and at most "
                f"{COT_UNKNOWN_ERROR_M:.0f} (CoT's 'unknown')",
                code="out_of_range",
            )
    return ReportRecord(
        uid=uid,
        sensor=item.sensor,
        time=t,
        lat=item.lat,
        lon=item.lon,
        hae=item.hae,
        ce=item.ce,
        le=item.le,
    )


def check_reports(
    items: Sequence[ReportIn], nation: NationCode, sharing: Sharing, now: float, *, single: bool
) -> list[ReportRecord]:
    """Every report checked (all or nothing); ``single``: the body was one object, not a list."""
    if not items:
        raise Invalid("no reports: send one report object or a non-empty list", code="empty")
    if len(items) > MAX_REPORTS_PER_REQUEST:
        raise TooLarge(
            f"{len(items)} reports in one request; at most {MAX_REPORTS_PER_REQUEST}",
        )
    return [
        check_report(item, nation, sharing, now, "" if single else f"reports[{i}].")
        for i, item in enumerate(items)
    ]
