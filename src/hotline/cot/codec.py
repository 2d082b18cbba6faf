"""Cursor-on-Target XML: safe parsing of sensor events, and events for tracks and impacts.

Parsing is defensive, as CoT arrives from the network:

* a stream is cut into events on ``</event>`` (``StreamSplitter``); a piece larger than
  ``max_event_bytes`` without an end tag is refused (``CotTooLarge``) before it is parsed;
* any ``<!DOCTYPE`` or ``<!ENTITY`` is refused outright (``CotDoctype``); the parser is
  defusedxml with DTDs, entities and external references forbidden as a second guard;
* every parser failure (``ParseError``, ``DefusedXmlException``, ``UnicodeDecodeError``,
  ``ValueError``, ``LookupError`` for an unknown encoding) becomes one ``CotError`` naming what
  was wrong; nothing else escapes.

Reports: a CoT event of an atom (``a-...``) with a ``<point>`` is a report: ``uid``, ``time``
and the point's ``lat``, ``lon``, ``hae``, ``ce``, ``le``. The sensor is named by
``<detail><hotline sensor="fps5-sado"/></detail>``, or else by the ``uid`` prefix before its
first ``.`` (``fps5-sado.m1``). Pings (``t-x-c-t``, and pytak's ``takPing`` of type ``t-x-d-d``)
are answered.

Every event hotline sends ends with ``</event>`` (never an empty ``<event/>``), which is how
TAK clients (pytak's reader among them) frame a stream.

Output: a track is an air-weapon-missile atom of unknown affiliation (``a-u-A-W-M``, how
``m-f`` machine-fused) with CoT's ``<track course speed>``; its predicted impact is a drawn
ellipse (``u-d-c-e``, ``<shape><ellipse major minor angle>``: semi-axes in metres and the
major axis clockwise from north, 95 %). Both carry a ``<hotline>`` detail with the rest.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final
from xml.etree import ElementTree as ET

import defusedxml.ElementTree as DET
from defusedxml import DefusedXmlException

from hotline.domain.reports import ReportIn
from hotline.domain.warning_events import TrackUpdated
from hotline.errors import InputError, TooLarge

#: Largest single CoT event accepted (bytes).
MAX_EVENT_BYTES: Final = 64 * 1024
END_TAG: Final = b"</event>"
TRACK_TYPE: Final = "a-u-A-W-M"
IMPACT_TYPE: Final = "u-d-c-e"
#: How long a TAK client keeps showing a track with no update (s).
TRACK_STALE_S: Final = 60.0

PARSE_ERRORS = (ET.ParseError, DefusedXmlException, UnicodeDecodeError, ValueError, LookupError)
_FORBIDDEN = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


class CotError(InputError):
    code = "bad_cot"


class CotDoctype(CotError):
    code = "cot_doctype"


class CotTooLarge(TooLarge):
    code = "cot_too_large"


@dataclass(frozen=True, slots=True)
class CotEvent:
    """The parts of a CoT event hotline reads (times in epoch seconds)."""

    uid: str
    type: str
    how: str
    time: float
    start: float
    stale: float
    point: tuple[float, float, float, float, float] | None  # lat, lon, hae, ce, le
    sensor: str | None = None
    callsign: str | None = None

    @property
    def is_ping(self) -> bool:
        return self.type.startswith("t-x-c-t") or (
            self.type == "t-x-d-d" and self.uid.lower().endswith("ping")
        )

    @property
    def is_atom(self) -> bool:
        return self.type.startswith("a-")


def cot_time(t: float) -> str:
    """Epoch seconds -> CoT time ``2026-11-22T21:13:31.500Z``."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_cot_time(text: str, attr: str) -> float:
    try:
        dt = datetime.fromisoformat(text.strip())
    except ValueError:
        raise CotError(f"event@{attr} = {text[:40]!r} is not a CoT time") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)  # CoT times are UTC ('Z'); tolerate a missing suffix
    return dt.timestamp()


def _attr_float(el: ET.Element, name: str, where: str) -> float:
    raw = el.get(name)
    if raw is None:
        raise CotError(f"{where}@{name} is missing")
    try:
        value = float(raw)
    except ValueError:
        raise CotError(f"{where}@{name} = {raw[:40]!r} is not a number") from None
    if not math.isfinite(value):
        raise CotError(f"{where}@{name} = {raw[:40]!r} is not a finite number")
    return value


def parse_event(data: bytes, max_bytes: int = MAX_EVENT_BYTES) -> CotEvent:
    """One CoT event from its XML bytes; raises ``CotError``/``CotTooLarge`` (never others)."""
    if len(data) > max_bytes:
        raise CotTooLarge(f"CoT event of {len(data)} bytes; at most {max_bytes}")
    if _FORBIDDEN.search(data):
        raise CotDoctype("CoT events may not carry a DOCTYPE or ENTITY declaration")
    try:
        root = DET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except PARSE_ERRORS as exc:
        raise CotError(f"not well-formed CoT XML: {type(exc).__name__}: {exc}") from None
    if root.tag != "event":
        raise CotError(f"root element is <{str(root.tag)[:40]}>, expected <event>")
    uid, typ = root.get("uid"), root.get("type")
    if not uid:
        raise CotError("event@uid is missing")
    if not typ:
        raise CotError("event@type is missing")
    time_text = root.get("time")
    if time_text is None:
        raise CotError("event@time is missing")
    t = parse_cot_time(time_text, "time")
    start = parse_cot_time(root.get("start") or time_text, "start")
    stale = parse_cot_time(root.get("stale") or time_text, "stale")
    point = None
    pt = root.find("point")
    if pt is not None:
        point = (
            _attr_float(pt, "lat", "point"),
            _attr_float(pt, "lon", "point"),
            _attr_float(pt, "hae", "point"),
            _attr_float(pt, "ce", "point"),
            _attr_float(pt, "le", "point"),
        )
    sensor = callsign = None
    detail = root.find("detail")
    if detail is not None:
        hl = detail.find("hotline")
        if hl is not None:
            sensor = hl.get("sensor")
        contact = detail.find("contact")
        if contact is not None:
            callsign = contact.get("callsign")
    return CotEvent(
        uid=uid,
        type=typ,
        how=root.get("how") or "",
        time=t,
        start=start,
        stale=stale,
        point=point,
        sensor=sensor,
        callsign=callsign,
    )


def to_report(ev: CotEvent) -> ReportIn:
    """The report an atom event carries; CotError if it has no point."""
    if ev.point is None:
        raise CotError(f"event {ev.uid[:40]!r} of type {ev.type} has no <point>")
    lat, lon, hae, ce, le = ev.point
    sensor = ev.sensor or ev.uid.split(".", 1)[0]
    return ReportIn(
        uid=ev.uid, sensor=sensor, time=ev.time, lat=lat, lon=lon, hae=hae, ce=ce, le=le
    )


# ---- building events ---------------------------------------------------------------------------


def _event(uid: str, typ: str, how: str, time: float, stale: float) -> ET.Element:
    return ET.Element(
        "event",
        {
            "version": "2.0",
            "uid": uid,
            "type": typ,
            "how": how,
            "time": cot_time(time),
            "start": cot_time(time),
            "stale": cot_time(stale),
        },
    )


def _point(
    parent: ET.Element, lat: float, lon: float, hae: float, ce: float, le: float
) -> ET.Element:
    return ET.SubElement(
        parent,
        "point",
        {
            "lat": f"{lat:.7f}",
            "lon": f"{lon:.7f}",
            "hae": f"{hae:.1f}",
            "ce": f"{ce:.1f}",
            "le": f"{le:.1f}",
        },
    )


def _bytes(el: ET.Element) -> bytes:
    out: bytes = ET.tostring(el, encoding="utf-8", xml_declaration=False)
    return out


def short_id(track_id: str) -> str:
    return track_id.removeprefix("trk-")[:6].upper()


def track_event(t: TrackUpdated, origin: str, now: float) -> bytes:
    """The CoT event of a track (stale at once if the track ended, so clients drop it)."""
    ended = t.status in ("merged", "dropped")
    stale = now if ended else max(now, t.time) + TRACK_STALE_S
    ev = _event(f"hotline.{t.track_id}", TRACK_TYPE, "m-f", now, stale)
    sigma = max(t.sigma_m, 0.1)
    _point(ev, t.lat, t.lon, t.hae, sigma, sigma)
    detail = ET.SubElement(ev, "detail")
    ET.SubElement(detail, "contact", {"callsign": f"TRK {short_id(t.track_id)}"})
    e, n, u = t.velocity
    course = math.degrees(math.atan2(e, n)) % 360.0
    ET.SubElement(detail, "track", {"course": f"{course:.1f}", "speed": f"{math.hypot(e, n):.1f}"})
    ET.SubElement(
        detail,
        "hotline",
        {
            "track": t.track_id,
            "picture": t.picture,
            "origin": origin,
            "status": t.status,
            "phase": t.phase,
            "vertical_speed": f"{u:.1f}",
            "nations": ",".join(t.nations),
            "sources": ",".join(t.sources),
        },
    )
    remarks = ET.SubElement(detail, "remarks")
    remarks.text = f"{t.phase} phase, {t.hae / 1000:.0f} km, sources {', '.join(t.sources)}"
    return _bytes(ev)


def impact_event(t: TrackUpdated, now: float) -> bytes | None:
    """The CoT ellipse of a track's predicted impact (95 %), or None without a prediction."""
    imp = t.impact
    if imp is None or t.phase == "boost":  # no prediction while the missile is powered
        return None
    ended = t.status in ("merged", "dropped")
    stale = now if ended else max(now, imp.time) + TRACK_STALE_S
    ev = _event(f"hotline.{t.track_id}.impact", IMPACT_TYPE, "m-f", now, stale)
    _point(ev, imp.lat, imp.lon, 0.0, imp.semi_major_m / 2.4477, 9_999_999.0)
    detail = ET.SubElement(ev, "detail")
    ET.SubElement(detail, "contact", {"callsign": f"IMPACT {short_id(t.track_id)}"})
    shape = ET.SubElement(detail, "shape")
    ET.SubElement(
        shape,
        "ellipse",
        {
            "major": f"{imp.semi_major_m:.1f}",
            "minor": f"{imp.semi_minor_m:.1f}",
            "angle": f"{imp.orientation_deg:.1f}",
        },
    )
    ET.SubElement(
        detail,
        "hotline",
        {
            "track": t.track_id,
            "impact_time": cot_time(imp.time),
            "time_sigma_s": f"{imp.time_sigma_s:.1f}",
            "territory": imp.territory or "",
        },
    )
    remarks = ET.SubElement(detail, "remarks")
    where = f"in {imp.territory}" if imp.territory else "outside every party's territory"
    remarks.text = f"Predicted impact {cot_time(imp.time)} (95 % ellipse), {where}"
    return _bytes(ev)


def pong_event(ping: CotEvent, now: float) -> bytes:
    """The answer to a ping: ``t-x-c-t-r`` to a TAK ping, pytak's ``takPong`` to ``takPing``."""
    if ping.type.startswith("t-x-c-t"):
        ev = _event(ping.uid, "t-x-c-t-r", "m-g", now, now + 20.0)
    else:
        ev = _event("takPong", "t-x-d-d", "m-g", now, now + 3600.0)
    _point(ev, 0.0, 0.0, 0.0, 9_999_999.0, 9_999_999.0)
    ET.SubElement(ev, "detail")
    return _bytes(ev)


def error_event(code: str, message: str, now: float) -> bytes:
    """How the port answers a bad event (``t-x-e``, hotline's own): the code and message."""
    ev = _event(f"hotline.error.{int(now * 1000):x}", "t-x-e", "m-g", now, now + 60.0)
    _point(ev, 0.0, 0.0, 0.0, 9_999_999.0, 9_999_999.0)
    detail = ET.SubElement(ev, "detail")
    ET.SubElement(detail, "hotline_error", {"code": code, "message": message[:500]})
    return _bytes(ev)


class StreamSplitter:
    """Buffers a byte stream and yields whole events: each ends at its ``</event>``, or at the
    ``/>`` of an empty ``<event .../>`` (as pytak's ``takPong``).

    TCP delivers chunks that hold several events or part of one. Every byte is examined once
    (the scan resumes where it stopped), so a slow sender cannot make the splitting quadratic.
    Raises ``CotTooLarge`` when more than ``max_event_bytes`` arrive without the event's end
    (the connection is then closed: the stream cannot be resynchronised).
    """

    def __init__(self, max_event_bytes: int = MAX_EVENT_BYTES) -> None:
        self.max_event_bytes = max_event_bytes
        self._buf = bytearray()
        self._reset()

    def _reset(self) -> None:
        self._i = 0  # next byte to examine
        self._mode = 0  # 0: before the root tag, 1: in its start tag, 2: in its body
        self._quote = 0

    def feed(self, chunk: bytes) -> list[bytes]:
        self._buf += chunk
        out: list[bytes] = []
        while (end := self._event_end()) is not None:
            piece = bytes(self._buf[:end]).strip()
            del self._buf[:end]
            self._reset()
            if piece:
                out.append(piece)
        if len(self._buf) > self.max_event_bytes and len(self._buf.strip()) > self.max_event_bytes:
            size = len(self._buf)
            self._buf.clear()
            self._reset()
            raise CotTooLarge(
                f"{size} bytes arrived without '</event>'; a CoT event is at most "
                f"{self.max_event_bytes} bytes"
            )
        return out

    def _event_end(self) -> int | None:
        """Where the first event of the buffer ends (exclusive), or None if not yet."""
        buf = self._buf
        if self._mode == 0:
            k = buf.find(b"<event", max(0, self._i - 5))
            if k < 0:
                self._i = len(buf)
                return None
            self._mode, self._i = 1, k + 6
        if self._mode == 1:
            # The root start tag, minding quotes ('>' may sit inside an attribute value).
            quote = self._quote
            for i in range(self._i, len(buf)):
                c = buf[i]
                if quote:
                    if c == quote:
                        quote = 0
                elif c in (0x22, 0x27):  # " '
                    quote = c
                elif c == 0x3E:  # >
                    if buf[i - 1] == 0x2F:  # "/>": an empty event
                        return i + 1
                    self._mode, self._i, self._quote = 2, i + 1, 0
                    break
            else:
                self._i, self._quote = len(buf), quote
                return None
        k = buf.find(END_TAG, self._i)
        if k < 0:
            self._i = max(self._i, len(buf) - len(END_TAG) + 1)
            return None
        return k + len(END_TAG)

    @property
    def pending(self) -> int:
        return len(self._buf)
