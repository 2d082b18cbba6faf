"""The CoT codec: safe parsing (malicious XML), stream splitting, events for tracks and impacts."""

from __future__ import annotations

import contextlib
from xml.etree import ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.cot.codec import (
    CotDoctype,
    CotError,
    CotTooLarge,
    StreamSplitter,
    error_event,
    impact_event,
    parse_event,
    pong_event,
    to_report,
    track_event,
)
from hotline.domain.warning_events import ImpactEstimate, TrackUpdated
from hotline.errors import InputError

REPORT = (
    b'<event version="2.0" uid="fps5-sado.m1" type="a-u-A-W-M" how="m-r" '
    b'time="2026-11-22T21:13:31.500Z" start="2026-11-22T21:13:31.500Z" '
    b'stale="2026-11-22T21:14:31.500Z">'
    b'<point lat="39.21" lon="125.73" hae="16299.0" ce="324.6" le="324.6"/>'
    b'<detail><contact callsign="M1"/></detail></event>'
)
T0 = 1_795_382_011.5  # 2026-11-22T21:13:31.5Z


def test_a_report_event_parses_with_cot_point_semantics() -> None:
    ev = parse_event(REPORT)
    assert (ev.uid, ev.type, ev.how, ev.callsign) == ("fps5-sado.m1", "a-u-A-W-M", "m-r", "M1")
    assert ev.time == pytest.approx(T0)
    assert ev.point == (39.21, 125.73, 16299.0, 324.6, 324.6)
    assert ev.is_atom and not ev.is_ping
    rep = to_report(ev)
    assert (rep.sensor, rep.uid, rep.time, rep.ce) == ("fps5-sado", "fps5-sado.m1", ev.time, 324.6)


def test_the_sensor_may_be_named_in_the_detail() -> None:
    data = REPORT.replace(b"<detail>", b'<detail><hotline sensor="aegis-maya"/>')
    assert to_report(parse_event(data)).sensor == "aegis-maya"


def test_an_xml_declaration_is_accepted() -> None:
    data = b'<?xml version="1.0" encoding="UTF-8"?>\n' + REPORT
    assert parse_event(data).uid == "fps5-sado.m1"


XXE = (
    b'<?xml version="1.0"?><!DOCTYPE event [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b'<event version="2.0" uid="x" type="a-u-A" time="2026-11-22T21:13:31Z">'
    b'<point lat="1" lon="1" hae="1" ce="1" le="1"/><detail><remarks>&xxe;</remarks></detail>'
    b"</event>"
)
BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    b'<event uid="x" type="a-u-A" time="2026-11-22T21:13:31Z">&lol3;</event>'
)


@pytest.mark.parametrize(
    "data",
    [
        XXE,
        BILLION_LAUGHS,
        b'<!doctype event><event uid="x" type="a" time="2026-11-22T21:13:31Z"/>',
        b'<! DOCTYPE event><event uid="x" type="a" time="2026-11-22T21:13:31Z"/>',
        b'<!ENTITY x "y"><event uid="x" type="a" time="2026-11-22T21:13:31Z"/>',
    ],
    ids=["xxe", "billion-laughs", "lower-case-doctype", "spaced-doctype", "bare-entity"],
)
def test_doctype_and_entities_are_refused_before_parsing(data: bytes) -> None:
    with pytest.raises(CotDoctype):
        parse_event(data)


def test_defusedxml_is_the_second_guard() -> None:
    # An undefined entity without a DTD: refused by the parser, as a CotError.
    data = REPORT.replace(b'callsign="M1"', b'callsign="&ext;"')
    with pytest.raises(CotError, match="not well-formed"):
        parse_event(data)


@pytest.mark.parametrize(
    "data",
    [
        b'<?xml version="1.0" encoding="UTF-2"?>' + REPORT,  # LookupError inside the parser
        REPORT.replace(b"M1", b"\xff\xfe\xfa"),  # not UTF-8
        b'<?xml version="1.0" encoding="UTF-16"?>' + REPORT,  # declared, not used
        REPORT[:-3],  # truncated
        b"",
        b"<event",
        b"\x00\x01\x02",
    ],
    ids=["unknown-encoding", "bad-utf8", "wrong-encoding", "truncated", "empty", "open", "binary"],
)
def test_malformed_events_raise_one_specific_error(data: bytes) -> None:
    with pytest.raises(CotError):
        parse_event(data)


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        (b' uid="fps5-sado.m1"', b"", "event@uid"),
        (b' time="2026-11-22T21:13:31.500Z"', b"", "event@time"),
        (b'lat="39.21"', b'lat="north"', "point@lat"),
        (b'hae="16299.0"', b'hae="nan"', "point@hae"),
        (b'ce="324.6"', b"", "point@ce"),
        (b'time="2026-11-22T21:13:31.500Z"', b'time="yesterday"', "event@time"),
    ],
)
def test_missing_or_bad_attributes_are_named(old: bytes, new: bytes, field: str) -> None:
    with pytest.raises(CotError, match=field):
        parse_event(REPORT.replace(old, new, 1))


def test_a_root_other_than_event_is_refused() -> None:
    with pytest.raises(CotError, match="expected <event>"):
        parse_event(b"<message/>")


def test_an_event_over_the_size_limit_is_refused_unparsed() -> None:
    huge = REPORT.replace(b"<detail>", b"<detail><remarks>" + b"x" * 70_000 + b"</remarks>")
    with pytest.raises(CotTooLarge):
        parse_event(huge)
    assert parse_event(REPORT, max_bytes=len(REPORT)).uid == "fps5-sado.m1"


def test_pings_are_answered() -> None:
    ping = parse_event(
        b'<event version="2.0" type="t-x-d-d" uid="takPing" how="m-g" '
        b'time="2026-11-22T21:13:31Z" start="2026-11-22T21:13:31Z" stale="2026-11-22T22:13:31Z"/>'
    )
    assert ping.is_ping and ping.point is None
    pong = parse_event(pong_event(ping, T0))
    assert (pong.type, pong.uid) == ("t-x-d-d", "takPong")
    tak = parse_event(b'<event uid="ping-1" type="t-x-c-t" time="2026-11-22T21:13:31Z"/>')
    assert tak.is_ping
    assert parse_event(pong_event(tak, T0)).type == "t-x-c-t-r"


def test_an_atom_without_point_cannot_be_a_report() -> None:
    ev = parse_event(b'<event uid="a" type="a-f-G" time="2026-11-22T21:13:31Z"/>')
    with pytest.raises(CotError, match="no <point>"):
        to_report(ev)


# ---- the stream splitter -------------------------------------------------------------------


def test_merged_chunks_split_into_events() -> None:
    s = StreamSplitter()
    two = REPORT + b"\n" + REPORT.replace(b"m1", b"m2")
    assert [parse_event(e).uid for e in s.feed(two)] == ["fps5-sado.m1", "fps5-sado.m2"]
    assert s.pending == 0


def test_events_split_at_every_byte_come_out_whole() -> None:
    stream = (REPORT + b"\r\n") * 3
    for size in (1, 2, 7, 8, 9, 50, len(REPORT) - 1):
        s = StreamSplitter()
        out: list[bytes] = []
        for i in range(0, len(stream), size):
            out += s.feed(stream[i : i + size])
        assert out == [REPORT] * 3, size


def test_a_stream_without_end_tag_is_cut_at_the_limit() -> None:
    s = StreamSplitter(max_event_bytes=1000)
    s.feed(b"<event " + b"a" * 500)
    with pytest.raises(CotTooLarge):
        s.feed(b"a" * 600)
    assert s.pending == 0


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_random_bytes_raise_only_input_errors(data: bytes) -> None:
    s = StreamSplitter(max_event_bytes=1000)
    try:
        pieces = s.feed(data) + s.feed(b"</event>")
    except InputError:
        return
    for piece in pieces:
        with contextlib.suppress(InputError):
            parse_event(piece, 1000)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_random_text_inside_an_event_raises_only_input_errors(text: str) -> None:
    data = REPORT.replace(b"<contact", text.encode("utf-8", "surrogatepass") + b"<contact")
    with contextlib.suppress(InputError):
        parse_event(data)


# ---- events out ----------------------------------------------------------------------------


def _track(phase: str = "midcourse", status: str = "confirmed") -> TrackUpdated:
    return TrackUpdated(
        track_id="trk-00112233aabbccdd",
        picture="coalition",
        status=status,
        phase=phase,
        time=T0,
        lat=39.5,
        lon=131.0,
        hae=250_000.0,
        velocity=(2000.0, 0.0, -500.0),
        sigma_m=120.0,
        nations=("JPN", "USA"),  # type: ignore[arg-type]
        sources=("JPN/fps5-sado", "USA/tpy2-kyogamisaki"),
        n_reports=40,
        impact=ImpactEstimate(
            lat=39.7,
            lon=135.2,
            time=T0 + 200,
            time_sigma_s=3.0,
            semi_major_m=9000.0,
            semi_minor_m=4000.0,
            orientation_deg=95.0,
            territory=None,
        ),
        at=T0,
    )


def test_a_track_becomes_a_missile_atom_that_parses_back() -> None:
    data = track_event(_track(), "USA", T0)
    ev = parse_event(data)
    assert ev.type == "a-u-A-W-M" and ev.uid == "hotline.trk-00112233aabbccdd"
    assert ev.point is not None and ev.point[:3] == (39.5, 131.0, 250000.0)
    assert ev.stale == pytest.approx(T0 + 60)
    root = ET.fromstring(data)
    track = root.find("detail/track")
    assert track is not None and float(track.get("course", "0")) == pytest.approx(90.0)
    hl = root.find("detail/hotline")
    assert hl is not None and hl.get("sources") == "JPN/fps5-sado,USA/tpy2-kyogamisaki"


def test_an_ended_track_is_stale_at_once() -> None:
    ev = parse_event(track_event(_track(status="dropped"), "USA", T0 + 5))
    assert ev.stale == pytest.approx(T0 + 5)


def test_the_impact_is_a_drawn_ellipse_and_none_in_boost() -> None:
    data = impact_event(_track(), T0)
    assert data is not None
    ev = parse_event(data)
    assert ev.type == "u-d-c-e" and ev.point is not None and ev.point[:2] == (39.7, 135.2)
    ellipse = ET.fromstring(data).find("detail/shape/ellipse")
    assert ellipse is not None
    assert (ellipse.get("major"), ellipse.get("minor"), ellipse.get("angle")) == (
        "9000.0",
        "4000.0",
        "95.0",
    )
    assert impact_event(_track(phase="boost"), T0) is None


def test_error_events_name_the_problem() -> None:
    root = ET.fromstring(error_event("unknown_sensor", "sensor 'x' is not known", T0))
    err = root.find("detail/hotline_error")
    assert root.get("type") == "t-x-e"
    assert err is not None and err.get("code") == "unknown_sensor"


def test_empty_events_and_quoted_angle_brackets_split_right() -> None:
    pong = b'<event version="2.0" type="t-x-d-d" uid="takPong" time="2026-11-22T21:13:31Z" />'
    odd = REPORT.replace(b'how="m-r"', b'how="m-r" remarks="a>b/>c"')
    stream = pong + REPORT + b"\n" + odd + pong
    for size in (1, 3, len(stream)):
        s = StreamSplitter()
        out: list[bytes] = []
        for i in range(0, len(stream), size):
            out += s.feed(stream[i : i + size])
        assert out == [pong, REPORT, odd, pong], size
    assert not parse_event(pong).is_ping  # a pong is not answered (no ping-pong loop)


class _CountingBuffer(bytearray):
    """A bytearray that counts the bytes read from it one at a time."""

    reads = 0

    def __getitem__(self, key):  # type: ignore[no-untyped-def]
        type(self).reads += 1
        return super().__getitem__(key)


def test_a_slow_sender_does_not_make_splitting_quadratic() -> None:
    # Byte by byte inside the start tag: each byte is examined once, not the whole buffer again
    # (rescanning would read about n*n/2 = 2,000,000 bytes here).
    n = 2_000
    s = StreamSplitter(max_event_bytes=60_000)
    s._buf = _CountingBuffer()  # the splitter's buffer, counting its reads
    _CountingBuffer.reads = 0
    s.feed(b'<event uid="')
    for _ in range(n):
        s.feed(b"a")
    assert _CountingBuffer.reads <= 2 * n
    assert s.feed(b'" type="a"/>') and s.pending == 0
