"""Compact files: the TOML form of a coalition and the loader that checks it.

``parse_compact(text, source)`` turns the text of a compact file into a validated
:class:`~hotline.domain.compact.Compact` and ``load_compact(name_or_path)`` reads it from a bundled
compact (``camp-david``, ``nato-32``) or from a path. Either reports *every* mistake at once
as a :class:`CompactError` whose lines read ``file:line: field: what is wrong (what is expected)``.

The format is documented, key by key, in ``docs/compact.md``.
"""

from __future__ import annotations

import contextlib
import difflib
import itertools
import math
import re
import string
import tomllib
import zoneinfo
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from hotline.domain.compact import (
    DEFAULT_ACK_S,
    Cadence,
    Channel,
    Compact,
    Meeting,
    Official,
    Party,
    Severity,
    Treaty,
)
from hotline.domain.ids import (
    LAYERS,
    ChannelId,
    Classification,
    Handle,
    Layer,
    NationCode,
    Precedence,
    channel_id,
)
from hotline.domain.sharing import SENSOR_KINDS, Sensor, Sharing
from hotline.errors import ConfigError

__all__ = [
    "CompactError",
    "bundled_compacts",
    "format_duration",
    "load_compact",
    "parse_compact",
    "parse_duration",
]

#: A problem as reported: (line, field, message). Line 0 means "the file as a whole".
Problem = tuple[int, str, str]
#: A position in the TOML document: table keys and array indices, ``("parties", 0, "code")``.
TomlPath = tuple[str | int, ...]


class CompactError(ConfigError):
    """A compact file with mistakes; ``problems`` lists every one as (line, field, message)."""

    code = "compact"

    def __init__(self, source: str, problems: Sequence[Problem]) -> None:
        self.source = source
        self.problems: list[Problem] = list(problems)
        super().__init__("\n".join(_format_problem(source, p) for p in self.problems))


def _format_problem(source: str, problem: Problem) -> str:
    line, fld, message = problem
    where = f"{source}:{line}" if line > 0 else source
    return f"{where}: {fld}: {message}" if fld else f"{where}: {message}"


# ---- public entry points ---------------------------------------------------------------------


def bundled_compacts() -> list[str]:
    """Names of the compacts shipped with hotline (``camp-david``, ``nato-32``), sorted."""
    root = resources.files(__name__)
    return sorted(
        entry.name.removesuffix(".toml")
        for entry in root.iterdir()
        if entry.name.endswith(".toml") and entry.is_file()
    )


_BARE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")


def load_compact(name_or_path: str | Path) -> Compact:
    """Load a bundled compact by name (``"camp-david"``) or a compact file by path.

    A ``str`` made only of lower-case letters, digits, ``-`` and ``_`` names a bundled compact;
    anything else (a ``Path``, or a string with ``/`` or ``.``) is a path, so ``./camp-david``
    loads a local file of that name. Raises :class:`CompactError` naming every mistake.
    """
    if isinstance(name_or_path, str) and _BARE_NAME.fullmatch(name_or_path):
        resource = resources.files(__name__) / f"{name_or_path}.toml"
        if not resource.is_file():
            known = ", ".join(bundled_compacts())
            raise CompactError(
                name_or_path,
                [(0, "", f"no bundled compact {name_or_path!r} ({known}); or give a path")],
            )
        return parse_compact(resource.read_text(encoding="utf-8"), f"{name_or_path}.toml")
    path = Path(name_or_path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise CompactError(str(path), [(0, "", f"cannot read the compact: {reason}")]) from exc
    except UnicodeDecodeError as exc:
        raise CompactError(str(path), [(0, "", f"not UTF-8 text: {exc.reason}")]) from exc
    return parse_compact(text, str(path))


def parse_compact(text: str, source: str) -> Compact:
    """Parse and check the text of a compact file; ``source`` names it in error messages.

    Pure: reads nothing but ``text`` (and the time-zone database, to check zone names).
    Raises :class:`CompactError` listing every mistake found, in line order.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line, message = _decode_error(exc, text)
        raise CompactError(source, [(line, "", f"not valid TOML: {message}")]) from None
    checker = _Checker(text)
    compact = _build(data, checker)
    if checker.problems or compact is None:
        raise CompactError(source, checker.sorted_problems())
    return compact


# ---- durations -------------------------------------------------------------------------------

_UNIT_S = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_DURATION = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|d|h|m|s))+")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|d|h|m|s)")


def parse_duration(value: object) -> float:
    """``"10m"``, ``"1h30m"``, ``"45s"``, ``"365d"`` or a number of seconds -> seconds.

    Raises ``ValueError`` for anything else (including booleans, NaN and infinities).
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and _DURATION.fullmatch(value.strip()):
        seconds = sum(
            float(num) * _UNIT_S[unit] for num, unit in _DURATION_PART.findall(value.strip())
        )
    else:
        raise ValueError(f"{value!r} is not a duration")
    if not math.isfinite(seconds):
        raise ValueError(f"{value!r} is not a finite duration")
    return seconds


def format_duration(seconds: float) -> str:
    """Seconds -> the shortest exact form: ``600`` -> ``"10m"``, ``5400`` -> ``"1h30m"``."""
    if seconds <= 0 or seconds != round(seconds):
        return f"{seconds:g}s"
    rest = int(seconds)
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


# ---- problems and their lines ----------------------------------------------------------------


@dataclass(slots=True)
class _Checker:
    """Collects problems; finds their lines only if there are any (the common case is none)."""

    text: str
    problems: list[tuple[TomlPath, str, str]] = field(default_factory=list)

    def add(self, path: TomlPath, message: str, fld: str | None = None) -> None:
        self.problems.append((path, _render(path) if fld is None else fld, message))

    def sorted_problems(self) -> list[Problem]:
        locator = _Locator(self.text)
        found = [(locator.line_of(path), fld, msg) for path, fld, msg in self.problems]
        return sorted(found, key=lambda p: p[0])  # stable: same line keeps checking order


def _render(path: TomlPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


class _Locator:
    """Line numbers of the tables, keys and array items of a valid TOML text.

    ``tomllib`` reports no positions, so this walks the text once more, tracking only the
    structure (headers, keys, arrays, inline tables) and skipping the values. It runs only
    on text ``tomllib`` has accepted and only when there is a problem to place.
    """

    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0
        self.line = 1
        self.lines: dict[TomlPath, int] = {}
        self.aot: dict[TomlPath, int] = {}  # array-of-tables path -> items seen so far
        with contextlib.suppress(_LocatorEnd):  # best effort: keep what was found
            self._document()

    def line_of(self, path: TomlPath) -> int:
        """The line of ``path``, else of its nearest enclosing table or key, else 1."""
        for n in range(len(path), 0, -1):
            hit = self.lines.get(path[:n])
            if hit is not None:
                return hit
        return 1

    # -- scanning --

    def _peek(self, k: int = 1) -> str:
        return self.s[self.i : self.i + k]

    def _advance(self, n: int = 1) -> None:
        chunk = self.s[self.i : self.i + n]
        if len(chunk) < n:
            raise _LocatorEnd
        self.line += chunk.count("\n")
        self.i += n

    def _blank(self, newlines: bool) -> None:
        while self.i < len(self.s):
            ch = self.s[self.i]
            if ch in " \t\r" or (newlines and ch == "\n"):
                self._advance()
            elif ch == "#":
                end = self.s.find("\n", self.i)
                self.i = len(self.s) if end < 0 else end
            else:
                return

    def _record(self, path: TomlPath) -> None:
        self.lines.setdefault(path, self.line)

    # -- grammar --

    def _document(self) -> None:
        table: TomlPath = ()
        while True:
            self._blank(newlines=True)
            if self.i >= len(self.s):
                return
            if self._peek(2) == "[[":
                self._advance(2)
                table = self._array_header()
            elif self._peek() == "[":
                self._advance()
                table = self._table_header()
            else:
                self._keyval(table)

    def _resolve(self, keys: Sequence[str]) -> TomlPath:
        out: list[str | int] = []
        for key in keys:
            out.append(key)
            count = self.aot.get(tuple(out))
            if count:
                out.append(count - 1)
        return tuple(out)

    def _table_header(self) -> TomlPath:
        line = self.line
        keys = self._key()
        self._blank(newlines=False)
        self._advance()  # ]
        path = self._resolve(keys)
        for n in range(1, len(path) + 1):
            self.lines.setdefault(path[:n], line)
        self.lines[path] = line
        return path

    def _array_header(self) -> TomlPath:
        line = self.line
        keys = self._key()
        self._blank(newlines=False)
        self._advance(2)  # ]]
        base = (*self._resolve(keys[:-1]), keys[-1])
        self.aot[base] = self.aot.get(base, 0) + 1
        path = (*base, self.aot[base] - 1)
        for n in range(1, len(path) + 1):
            self.lines.setdefault(path[:n], line)
        return path

    def _keyval(self, table: TomlPath) -> None:
        keys = self._key()
        for n in range(1, len(keys) + 1):
            self._record((*table, *keys[:n]))
        self._blank(newlines=False)
        self._advance()  # =
        self._blank(newlines=False)
        self._value((*table, *keys))

    def _key(self) -> list[str]:
        keys: list[str] = []
        while True:
            self._blank(newlines=False)
            ch = self._peek()
            if ch == '"':
                start = self.i
                self._skip_string()
                keys.append(_unquote(self.s[start : self.i]))
            elif ch == "'":
                start = self.i
                self._skip_string()
                keys.append(self.s[start + 1 : self.i - 1])
            else:
                start = self.i
                while self._peek() and (self._peek().isalnum() or self._peek() in "-_"):
                    self._advance()
                if self.i == start:
                    raise _LocatorEnd
                keys.append(self.s[start : self.i])
            self._blank(newlines=False)
            if self._peek() != ".":
                return keys
            self._advance()

    def _value(self, path: TomlPath) -> None:
        ch = self._peek()
        if not ch:
            raise _LocatorEnd
        if ch == "{":
            self._advance()
            self._blank(newlines=True)
            while self._peek() != "}":
                self._keyval(path)
                self._blank(newlines=True)
                if self._peek() == ",":
                    self._advance()
                    self._blank(newlines=True)
            self._advance()
        elif ch == "[":
            self._advance()
            index = 0
            while True:
                self._blank(newlines=True)
                if self._peek() == "]":
                    self._advance()
                    return
                self._record((*path, index))
                self._value((*path, index))
                self._blank(newlines=True)
                if self._peek() == ",":
                    self._advance()
                    index += 1
                elif self._peek() != "]":
                    raise _LocatorEnd
        elif ch in "\"'":
            self._skip_string()
        else:
            start = self.i
            while self._peek() and self._peek() not in ",]}\n#":
                self._advance()
            if self.i == start:
                raise _LocatorEnd

    def _skip_string(self) -> None:
        quote = self._peek()
        triple = self._peek(3) == quote * 3
        self._advance(3 if triple else 1)
        while True:
            ch = self._peek()
            if not ch:
                raise _LocatorEnd
            if ch == "\\" and quote == '"':
                self._advance(2)
            elif triple and self._peek(3) == quote * 3:
                self._advance(3)
                for _ in range(2):  # up to two quotes may close the content: """a""""
                    if self._peek() == quote:
                        self._advance()
                return
            elif not triple and ch == quote:
                self._advance()
                return
            else:
                self._advance()


class _LocatorEnd(Exception):
    """The locator ran past what it understands; it keeps the lines found so far."""


def _unquote(quoted: str) -> str:
    value = tomllib.loads(f"k = {quoted}")["k"]
    return value if isinstance(value, str) else quoted


_TOML_POSITION = re.compile(r"\(at line (\d+), column \d+\)")


def _decode_error(exc: tomllib.TOMLDecodeError, text: str) -> tuple[int, str]:
    """Line and message of a TOML syntax error (3.11 puts the position in the message)."""
    message = str(exc)
    match = _TOML_POSITION.search(message)
    if match:
        return int(match.group(1)), message[: match.start()].strip()
    if "end of document" in message:
        return text.count("\n") + 1, message
    return 1, message


# ---- reading typed values --------------------------------------------------------------------

T = TypeVar("T")

_ID = re.compile(r"[a-z0-9][a-z0-9_-]*")
_NATION = re.compile(r"[A-Z]{3}")
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_BASE64_KEY = re.compile(r"[A-Za-z0-9+/]{43}=")
_HOST_PORT = re.compile(r"[A-Za-z0-9.\-\[\]:]+:\d{1,5}")


def _keys(
    c: _Checker,
    table: object,
    path: TomlPath,
    allowed: Iterable[str],
    required: Iterable[str] = (),
    fld: str | None = None,
) -> dict[str, Any] | None:
    """Check that ``table`` is a table with only ``allowed`` keys and every ``required`` one."""
    name = _render(path) if fld is None else fld
    if not isinstance(table, dict):
        c.add(path, f"expected a table, got {_kind(table)}", name)
        return None
    allowed = list(allowed)
    for key in table:
        if key not in allowed:
            same_case = [a for a in allowed if a.lower() == key.lower()]
            near = same_case or difflib.get_close_matches(key, allowed, n=1)
            hint = f"did you mean {near[0]!r}?" if near else "expected " + ", ".join(allowed)
            c.add((*path, key), f"unknown key {key!r} ({hint})", f"{name}.{key}" if name else key)
    for key in required:
        if key not in table:
            c.add(path, f"missing key {key!r}", f"{name}.{key}" if name else key)
    return table


def _kind(value: object) -> str:
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "an array",
        dict: "a table",
    }.get(type(value), type(value).__name__)


def _text(c: _Checker, value: object, path: TomlPath, fld: str | None = None) -> str | None:
    if not isinstance(value, str):
        c.add(path, f"expected a string, got {_kind(value)} {value!r}", fld)
        return None
    if not value.strip():
        c.add(path, "must not be empty", fld)
        return None
    return value


def _ident(c: _Checker, value: object, path: TomlPath, what: str) -> str | None:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        c.add(path, f"{value!r} is not a valid {what} (lower-case letters, digits, '-', '_')")
        return None
    return value


def _choice(
    c: _Checker, value: object, path: TomlPath, options: Sequence[str], what: str, fld: str | None
) -> str | None:
    if not isinstance(value, str) or value not in options:
        c.add(path, f"{value!r} is not {what} ({', '.join(options)})", fld)
        return None
    return value


def _array(c: _Checker, value: object, path: TomlPath, fld: str | None = None) -> list[Any]:
    if not isinstance(value, list):
        c.add(path, f"expected an array, got {_kind(value)}", fld)
        return []
    return value


def _duration(c: _Checker, value: object, path: TomlPath, fld: str | None = None) -> float | None:
    try:
        seconds = parse_duration(value)
    except ValueError:
        c.add(
            path,
            f'{value!r} is not a duration (e.g. "45s", "10m", "3h", "365d", or seconds)',
            fld,
        )
        return None
    if seconds <= 0:
        c.add(path, f"{value!r} must be a positive duration", fld)
        return None
    return seconds


# ---- the compact, section by section ---------------------------------------------------------

_TOP = (
    "id",
    "title",
    "layers",
    "classifications",
    "parties",
    "officials",
    "official_defaults",
    "channels",
    "ack_deadlines",
    "treaties",
    "severities",
    "cadence",
    "sharing",
)


@dataclass(slots=True)
class _Context:
    """What later sections need from earlier ones."""

    codes: list[NationCode]  # valid party codes, in compact order
    rows: dict[NationCode, int]  # where each is in the parties array
    parties: dict[NationCode, Party]
    layers: list[Layer]
    classifications: list[Classification]


def _build(data: dict[str, Any], c: _Checker) -> Compact | None:
    _keys(c, data, (), _TOP, required=("id", "title", "parties"))
    compact_id = _ident(c, data["id"], ("id",), "compact id") if "id" in data else None
    title = _text(c, data["title"], ("title",)) if "title" in data else None
    layers = _layers(c, data.get("layers", [str(layer) for layer in LAYERS]))
    classifications = _classifications(
        c, data.get("classifications", [str(level) for level in Classification])
    )
    rows = _parties(c, data["parties"]) if "parties" in data else []
    parties = [party for _, party in rows]
    ctx = _Context(
        codes=[p.code for p in parties],
        rows={party.code: row for row, party in rows},
        parties={p.code: p for p in parties},
        layers=layers,
        classifications=classifications,
    )
    officials = _officials(c, data.get("officials", {}), data.get("official_defaults", {}), ctx)
    channels = _channels(c, data.get("channels", {}), ctx)
    ack_s = _ack_deadlines(c, data.get("ack_deadlines", {}))
    treaties = _treaties(c, data.get("treaties", []), ctx)
    severities = _severities(c, data.get("severities", {}))
    cadence = _cadence(c, data.get("cadence", {}), ctx)
    sharing = _sharing(c, data.get("sharing", {}), ctx, channels)
    if c.problems or compact_id is None or title is None or cadence is None:
        return None
    return Compact(
        id=compact_id,
        title=title,
        parties=tuple(parties),
        layers=tuple(layers),
        officials=tuple(officials),
        channels=tuple(channels),
        treaties=tuple(treaties),
        ack_s=ack_s,
        classifications=tuple(classifications),
        severities=tuple(severities),
        cadence=cadence,
        sharing=sharing,
    )


def _unique_choices(
    c: _Checker,
    raw: object,
    key: str,
    parse: Callable[[str], T],
    options: Sequence[str],
    what: str,
) -> list[T]:
    out: list[T] = []
    seen: set[str] = set()
    items = _array(c, raw, (key,))
    for i, item in enumerate(items):
        value = _choice(c, item, (key, i), options, what, f"{key}[{i}]")
        if value is None:
            continue
        if value in seen:
            c.add((key, i), f"{value!r} is listed twice", f"{key}[{i}]")
            continue
        seen.add(value)
        out.append(parse(value))
    if isinstance(raw, list) and not raw:
        c.add((key,), f"list at least one {what.removeprefix('a ')}")
    return out


def _layers(c: _Checker, raw: object) -> list[Layer]:
    return _unique_choices(c, raw, "layers", Layer, [str(x) for x in LAYERS], "a layer")


def _classifications(c: _Checker, raw: object) -> list[Classification]:
    levels = _unique_choices(
        c,
        raw,
        "classifications",
        Classification,
        [str(x) for x in Classification],
        "a classification",
    )
    return sorted(levels, key=lambda level: level.level)


# -- parties --

_PARTY_KEYS = ("code", "name", "timezone", "federation", "ca_fingerprint", "signing_key")


@cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _timezone(c: _Checker, value: object, path: TomlPath, fld: str) -> str | None:
    zone = _text(c, value, path, fld)
    if zone is None:
        return None
    zones = _zones()
    if zones and zone not in zones:  # no tz database installed: nothing to check against
        near = difflib.get_close_matches(zone, sorted(zones), n=1)
        hint = f"; did you mean {near[0]!r}?" if near else ""
        c.add(path, f"{zone!r} is not an IANA time zone (e.g. 'Asia/Tokyo'){hint}", fld)
        return None
    return zone


def _parties(c: _Checker, raw: object) -> list[tuple[int, Party]]:
    """The parties with a valid code, each with its index in the array.

    A party whose other fields are wrong is kept (with placeholders) so that references to its
    code elsewhere are not reported as well; the compact is not built when there are problems.
    """
    out: list[tuple[int, Party]] = []
    items = _array(c, raw, ("parties",))
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        path: TomlPath = ("parties", i)
        table = _keys(c, item, path, _PARTY_KEYS, required=("code", "name"))
        if table is None:
            continue
        code = table.get("code")
        if "code" in table and (not isinstance(code, str) or not _NATION.fullmatch(code)):
            c.add(
                (*path, "code"), f"{code!r} is not a nation code (3 upper-case letters, e.g. 'USA')"
            )
            code = None
        elif isinstance(code, str) and code in seen:
            c.add(
                (*path, "code"),
                f"{code!r} is already the code of parties[{seen[code]}]; codes are unique",
            )
            code = None
        if isinstance(code, str):
            seen[code] = i
        label = f"parties.{code}" if isinstance(code, str) else _render(path)
        name = (
            _text(c, table["name"], (*path, "name"), f"{label}.name") if "name" in table else None
        )
        zone: str | None = "UTC"
        if "timezone" in table:
            zone = _timezone(c, table["timezone"], (*path, "timezone"), f"{label}.timezone")
        pins = _party_pins(c, table, path, label)
        if isinstance(code, str):
            party = Party(code=NationCode(code), name=name or code, timezone=zone or "UTC")
            out.append((i, msgspec.structs.replace(party, **pins) if pins else party))
    if isinstance(raw, list) and len(raw) < 2:
        c.add(("parties",), f"a compact needs at least 2 parties, got {len(raw)}")
    return out


def _party_pins(
    c: _Checker, table: Mapping[str, Any], path: TomlPath, label: str
) -> dict[str, str]:
    checks = {
        "federation": (_HOST_PORT, "a host:port such as 'hotline.example.gov:8821'"),
        "ca_fingerprint": (_HEX64, "a SHA-256 fingerprint (64 hex digits)"),
        "signing_key": (_BASE64_KEY, "an Ed25519 public key (44 base64 characters)"),
    }
    out: dict[str, str] = {}
    for key, (pattern, expected) in checks.items():
        value = table.get(key, "")
        if not isinstance(value, str) or (value and not pattern.fullmatch(value)):
            c.add((*path, key), f"{value!r} is not {expected}", f"{label}.{key}")
        elif value:
            out[key] = value
    return out


# -- officials --

_OFFICIAL_KEYS = ("title", "name", "clearance", "timezone", "handle")
_TEMPLATE_FIELDS = ("code", "name", "nation")


@dataclass(frozen=True, slots=True)
class _Entry:
    title: str
    name: str
    clearance: Classification | None
    timezone: str | None
    handle: str | None


def _entries(c: _Checker, raw: object, path: TomlPath, label: str) -> list[_Entry | None]:
    """A layer's list: principal first, then alternates; strings are titles."""
    out: list[_Entry | None] = []
    items = _array(c, raw, path, label)
    if isinstance(raw, list) and not raw:
        c.add(path, "list at least the principal", label)
    for rank, item in enumerate(items):
        who = label if rank == 0 else f"{label}.{rank + 1}"
        out.append(_entry(c, item, (*path, rank), who))
    return out


def _entry(c: _Checker, item: object, path: TomlPath, who: str) -> _Entry | None:
    if isinstance(item, str):
        title = _text(c, item, path, who)
        return None if title is None else _Entry(title, title, None, None, None)
    table = _keys(c, item, path, _OFFICIAL_KEYS, required=("title",), fld=who)
    if table is None or "title" not in table:
        return None
    title = _text(c, table["title"], (*path, "title"), f"{who}.title")
    name = title
    if "name" in table:
        name = _text(c, table["name"], (*path, "name"), f"{who}.name")
    clearance: Classification | None = None
    if "clearance" in table:
        raw = table["clearance"]
        options = [str(x) for x in Classification]
        if _choice(c, raw, (*path, "clearance"), options, "a classification", f"{who}.clearance"):
            clearance = Classification(raw)
    zone = None
    if "timezone" in table:
        zone = _timezone(c, table["timezone"], (*path, "timezone"), f"{who}.timezone")
    handle = None
    if "handle" in table:
        handle = _text(c, table["handle"], (*path, "handle"), f"{who}.handle")
    if title is None or name is None:
        return None
    return _Entry(title, name, clearance, zone, handle)


def _check_templates(c: _Checker, entries: list[_Entry | None], path: TomlPath, label: str) -> None:
    for rank, entry in enumerate(entries):
        if entry is None:
            continue
        for attr in ("title", "name"):
            try:
                names = [f for _, f, _, _ in string.Formatter().parse(getattr(entry, attr)) if f]
            except ValueError as exc:
                c.add((*path, rank), f"bad template: {exc}", f"{label}[{rank}].{attr}")
                continue
            for name in names:
                if name not in _TEMPLATE_FIELDS:
                    c.add(
                        (*path, rank),
                        f"unknown placeholder {{{name}}} (use {{code}}, {{nation}}, {{name}})",
                        f"{label}[{rank}].{attr}",
                    )


def _officials(c: _Checker, raw: object, raw_defaults: object, ctx: _Context) -> list[Official]:
    layer_names = [str(layer) for layer in ctx.layers]
    classes = [str(level) for level in ctx.classifications]
    defaults: dict[str, list[_Entry | None]] = {}
    table = _keys(c, raw_defaults, ("official_defaults",), layer_names)
    for layer, items in (table or {}).items():
        if layer in layer_names:
            path: TomlPath = ("official_defaults", layer)
            label = f"official_defaults.{layer}"
            defaults[layer] = _entries(c, items, path, label)
            _check_templates(c, defaults[layer], path, label)
            for rank, entry in enumerate(defaults[layer]):  # checked once, not once per party
                if entry is not None and entry.handle is not None:
                    msg = "a default has no handle of its own (its position gives one per party)"
                    c.add((*path, rank, "handle"), msg, f"{label}[{rank}].handle")
                if entry is not None and not _cleared(
                    c, entry, (*path, rank), f"{label}[{rank}]", classes
                ):
                    defaults[layer][rank] = None

    per_nation: dict[str, dict[str, list[_Entry | None]]] = {}
    nations = [code.lower() for code in ctx.codes]
    table = _keys(c, raw, ("officials",), nations)
    for nation, layers in (table or {}).items():
        if nation not in nations:
            continue  # reported as an unknown key
        layers_table = _keys(c, layers, ("officials", nation), layer_names)
        per_nation[nation] = {
            layer: _entries(c, items, ("officials", nation, layer), f"officials.{nation}.{layer}")
            for layer, items in (layers_table or {}).items()
            if layer in layer_names
        }

    out: list[Official] = []
    for code in ctx.codes:
        nation = code.lower()
        party = ctx.parties[code]
        for layer in ctx.layers:
            own = per_nation.get(nation, {}).get(layer)
            entries = own if own is not None else defaults.get(layer)
            if entries is None:
                # point at the nation's officials table, or at the party if it has none
                c.add(
                    ("officials", nation, layer)
                    if nation in per_nation
                    else ("parties", ctx.rows[code]),
                    f"no principal for {code} at layer '{layer}' (list one here or under "
                    f"[official_defaults])",
                    f"officials.{nation}.{layer}",
                )
                continue
            fmt = {"code": code, "nation": nation, "name": party.name}
            for rank, entry in enumerate(entries):
                handle = Handle(
                    f"{nation}.{layer}" if rank == 0 else f"{nation}.{layer}.{rank + 1}"
                )
                if entry is None:
                    continue
                if own is not None:
                    where = ("officials", nation, layer, rank)
                    if entry.handle is not None and entry.handle != handle:
                        c.add(
                            (*where, "handle"),
                            f"{entry.handle!r} does not match its place in the list: entry "
                            f"{rank + 1} of {nation}.{layer} is {handle!r}",
                            f"officials.{handle}.handle",
                        )
                    if not _cleared(c, entry, where, f"officials.{handle}", classes):
                        continue
                clearance = entry.clearance or (ctx.classifications[-1] if classes else None)
                if clearance is None:
                    continue
                out.append(
                    Official(
                        handle=handle,
                        nation=code,
                        layer=layer,
                        rank=rank,
                        name=_fill(entry.name, fmt),
                        title=_fill(entry.title, fmt),
                        clearance=clearance,
                        timezone=entry.timezone or party.timezone,
                    )
                )
    return out


def _cleared(c: _Checker, entry: _Entry, where: TomlPath, who: str, classes: list[str]) -> bool:
    """Is the entry's clearance (if it has one) a classification of this compact?"""
    if entry.clearance is None or str(entry.clearance) in classes:
        return True
    c.add(
        (*where, "clearance"),
        f"{str(entry.clearance)!r} is not a classification of this compact ({', '.join(classes)})",
        f"{who}.clearance",
    )
    return False


def _fill(template: str, values: Mapping[str, str]) -> str:
    try:
        return template.format_map(values)
    except (KeyError, ValueError, IndexError):  # reported by _check_templates
        return template


# -- channels --

_CHANNEL_KEYS = ("generate", "layers", "pairs", "max_classification", "extra")
_EXTRA_KEYS = ("id", "layer", "members", "max_classification")
_GENERATE = ("all", "multilateral", "none")


def _members(
    c: _Checker, raw: object, path: TomlPath, ctx: _Context, minimum: int
) -> tuple[NationCode, ...] | None:
    """A list of party codes -> the same set in compact order (or None, reported)."""
    items = _array(c, raw, path)
    order = {code: i for i, code in enumerate(ctx.codes)}
    seen: list[NationCode] = []
    ok = True
    for i, item in enumerate(items):
        if not isinstance(item, str) or item not in order:
            parties = ", ".join(ctx.codes)
            c.add((*path, i), f"{item!r} is not a party of this compact ({parties})")
            ok = False
        elif item in seen:
            c.add((*path, i), f"{item!r} is listed twice")
            ok = False
        else:
            seen.append(NationCode(item))
    if ok and isinstance(raw, list) and len(seen) < minimum:
        c.add(path, f"list at least {minimum} parties, got {len(seen)}")
        ok = False
    return tuple(sorted(seen, key=order.__getitem__)) if ok else None


def _max_classification(
    c: _Checker, raw: object, path: TomlPath, ctx: _Context
) -> Classification | None:
    options = [str(level) for level in ctx.classifications]
    if _choice(c, raw, path, options, "a classification of this compact", None) is None:
        return None
    return Classification(str(raw))


def _channels(c: _Checker, raw: object, ctx: _Context) -> list[Channel]:
    table = _keys(c, raw, ("channels",), _CHANNEL_KEYS) or {}
    mode = _choice(
        c, table.get("generate", "all"), ("channels", "generate"), _GENERATE, "a mode", None
    )
    layers = ctx.layers
    if "layers" in table:
        options = [str(layer) for layer in ctx.layers]
        layers = []
        for i, item in enumerate(_array(c, table["layers"], ("channels", "layers"))):
            if _choice(
                c, item, ("channels", "layers", i), options, "a layer of this compact", None
            ):
                layers.append(Layer(item))
    top = ctx.classifications[-1] if ctx.classifications else Classification.TOP_SECRET
    level: Classification | None = top
    if "max_classification" in table:
        level = _max_classification(
            c, table["max_classification"], ("channels", "max_classification"), ctx
        )
    pairs: list[tuple[NationCode, ...]] = []
    for i, item in enumerate(_array(c, table.get("pairs", []), ("channels", "pairs"))):
        pair = _members(c, item, ("channels", "pairs", i), ctx, minimum=2)
        if pair is not None and len(pair) != 2:
            c.add(("channels", "pairs", i), f"a pair has 2 parties, got {len(pair)}")
        elif pair is not None:
            pairs.append(pair)

    groups: list[tuple[NationCode, ...]] = []
    everyone = tuple(ctx.codes)
    if mode in ("all", "multilateral") and len(everyone) >= 2:
        groups.append(everyone)
    if mode == "all":
        groups.extend(itertools.combinations(everyone, 2))
    groups.extend(pairs)
    groups = list(dict.fromkeys(groups))  # one channel per group, first mention wins

    out: list[Channel] = []
    if level is not None:
        out = [
            Channel(
                id=channel_id(layer, members),
                layer=layer,
                members=members,
                max_classification=level,
            )
            for layer in layers
            for members in groups
        ]
    seen = {ch.id for ch in out}
    for i, item in enumerate(_array(c, table.get("extra", []), ("channels", "extra"))):
        extra = _extra_channel(c, item, ("channels", "extra", i), ctx, top)
        if extra is None:
            continue
        if extra.id in seen:
            c.add(("channels", "extra", i), f"channel {extra.id!r} is already defined")
            continue
        seen.add(extra.id)
        out.append(extra)
    return out


def _extra_channel(
    c: _Checker, raw: object, path: TomlPath, ctx: _Context, top: Classification
) -> Channel | None:
    table = _keys(c, raw, path, _EXTRA_KEYS, required=("layer", "members"))
    if table is None or "layer" not in table or "members" not in table:
        return None
    options = [str(layer) for layer in ctx.layers]
    layer = _choice(c, table["layer"], (*path, "layer"), options, "a layer of this compact", None)
    members = _members(c, table["members"], (*path, "members"), ctx, minimum=2)
    level: Classification | None = top
    if "max_classification" in table:
        level = _max_classification(
            c, table["max_classification"], (*path, "max_classification"), ctx
        )
    if layer is None or members is None or level is None:
        return None
    cid = channel_id(layer, members)
    if "id" in table and table["id"] != cid:
        c.add(
            (*path, "id"),
            f"{table['id']!r} is not the id of this channel: {cid!r} "
            "(<layer>.<members in compact order>)",
        )
        return None
    return Channel(id=cid, layer=Layer(layer), members=members, max_classification=level)


# -- acknowledgment deadlines --


def _ack_deadlines(c: _Checker, raw: object) -> dict[Precedence, float]:
    names = [str(p) for p in Precedence]
    table = _keys(c, raw, ("ack_deadlines",), names) or {}
    out = dict(DEFAULT_ACK_S)
    given: dict[Precedence, float] = {}
    for prec in Precedence:
        if str(prec) not in table:
            continue
        path: TomlPath = ("ack_deadlines", str(prec))
        seconds = _duration(c, table[str(prec)], path)
        if seconds is None:
            continue
        limit = DEFAULT_ACK_S[prec]
        if seconds > limit:
            c.add(
                path,
                f"{format_duration(seconds)} loosens the default; a compact may only tighten "
                f"it (≤ {format_duration(limit)})",
            )
            continue
        out[prec] = given[prec] = seconds
    ordered = list(Precedence)
    for higher, lower in itertools.pairwise(ordered):
        if out[lower] < out[higher] and (lower in given or higher in given):
            blame = lower if lower in given else higher
            c.add(
                ("ack_deadlines", str(blame)),
                f"{lower} ({format_duration(out[lower])}) is shorter than {higher} "
                f"({format_duration(out[higher])}); keep flash ≤ immediate ≤ priority ≤ routine",
            )
    return out


# -- treaties --

_TREATY_KEYS = ("id", "title", "kind", "article", "parties", "covers", "legal", "text")


def _treaties(c: _Checker, raw: object, ctx: _Context) -> list[Treaty]:
    out: list[Treaty] = []
    seen: set[str] = set()
    for i, item in enumerate(_array(c, raw, ("treaties",))):
        path: TomlPath = ("treaties", i)
        table = _keys(c, item, path, _TREATY_KEYS, required=("id", "title", "kind", "parties"))
        if table is None:
            continue
        tid = _ident(c, table["id"], (*path, "id"), "treaty id") if "id" in table else None
        if tid is not None and tid in seen:
            c.add((*path, "id"), f"treaty {tid!r} is already defined")
            tid = None
        if tid is not None:
            seen.add(tid)
        title = _text(c, table["title"], (*path, "title")) if "title" in table else None
        kind = None
        if "kind" in table:
            kind = _choice(c, table["kind"], (*path, "kind"), ("defend", "consult"), "a kind", None)
        parties: tuple[NationCode, ...] | None = None
        if table.get("parties") == "all":
            parties = tuple(ctx.codes)
        elif "parties" in table:
            parties = _members(c, table["parties"], (*path, "parties"), ctx, minimum=2)
        covers: tuple[NationCode, ...] | None = ()
        if "covers" in table:
            covers = _members(c, table["covers"], (*path, "covers"), ctx, minimum=1)
        article = _optional_text(c, table, "article", path)
        text = _optional_text(c, table, "text", path)
        legal = table.get("legal", True)
        if not isinstance(legal, bool):
            c.add((*path, "legal"), f"expected true or false, got {_kind(legal)}")
            continue
        if None in (tid, title, kind, parties, covers, article, text):
            continue
        assert tid and title and kind and parties is not None and covers is not None
        out.append(
            Treaty(
                id=tid,
                title=title,
                kind=kind,
                parties=parties,
                article=article or "",
                covers=covers,
                legal=legal,
                text=text or "",
            )
        )
    return out


def _optional_text(c: _Checker, table: Mapping[str, Any], key: str, path: TomlPath) -> str | None:
    value = table.get(key, "")
    if not isinstance(value, str):
        c.add((*path, key), f"expected a string, got {_kind(value)}")
        return None
    return value.strip()


# -- severities --


def _severities(c: _Checker, raw: object) -> list[Severity]:
    out: list[Severity] = []
    if not isinstance(raw, dict):
        c.add(("severities",), f"expected a table, got {_kind(raw)}")
        return out
    for name, levels in raw.items():
        path: TomlPath = ("severities", name)
        if not _ID.fullmatch(name):
            c.add(path, f"{name!r} is not a valid severity name (lower-case letters, digits, '-')")
            continue
        spec = _keys(c, levels, path, ("ack", "convene"), required=("ack", "convene"))
        if spec is None or "ack" not in spec or "convene" not in spec:
            continue
        ack = _duration(c, spec["ack"], (*path, "ack"))
        convene = _duration(c, spec["convene"], (*path, "convene"))
        if ack is None or convene is None:
            continue
        if ack > convene:
            c.add(
                (*path, "ack"),
                f"ack {format_duration(ack)} is later than convene {format_duration(convene)}; "
                "the parties acknowledge before they convene",
            )
            continue
        out.append(Severity(name=name, ack_s=ack, convene_s=convene))
    return out


# -- cadence --

_CADENCE_KEYS = ("link_test_interval", "link_test_timeout", "meetings")
_MEETING_KEYS = ("id", "title", "kind", "layer", "every")


def _cadence(c: _Checker, raw: object, ctx: _Context) -> Cadence | None:
    table = _keys(c, raw, ("cadence",), _CADENCE_KEYS)
    if table is None:
        return None
    defaults = Cadence()
    interval = _duration(
        c,
        table.get("link_test_interval", defaults.link_test_interval_s),
        ("cadence", "link_test_interval"),
    )
    timeout = _duration(
        c,
        table.get("link_test_timeout", defaults.link_test_timeout_s),
        ("cadence", "link_test_timeout"),
    )
    if interval is not None and timeout is not None and timeout > interval:
        c.add(
            ("cadence", "link_test_timeout"),
            f"{format_duration(timeout)} is longer than the link test interval "
            f"{format_duration(interval)}",
        )
    meetings: list[Meeting] = []
    seen: set[str] = set()
    for i, item in enumerate(_array(c, table.get("meetings", []), ("cadence", "meetings"))):
        meeting = _meeting(c, item, ("cadence", "meetings", i), ctx)
        if meeting is None:
            continue
        if meeting.id in seen:
            c.add(("cadence", "meetings", i, "id"), f"meeting {meeting.id!r} is already defined")
            continue
        seen.add(meeting.id)
        meetings.append(meeting)
    if interval is None or timeout is None:
        return None
    return Cadence(
        link_test_interval_s=interval, link_test_timeout_s=timeout, meetings=tuple(meetings)
    )


def _meeting(c: _Checker, raw: object, path: TomlPath, ctx: _Context) -> Meeting | None:
    table = _keys(c, raw, path, _MEETING_KEYS, required=("id", "title", "kind"))
    if table is None or not {"id", "title", "kind"} <= table.keys():
        return None
    mid = _ident(c, table["id"], (*path, "id"), "meeting id")
    title = _text(c, table["title"], (*path, "title"))
    kind = _choice(c, table["kind"], (*path, "kind"), ("meeting", "exercise"), "a kind", None)
    layer: str | None = None
    if "layer" in table:
        options = [str(x) for x in ctx.layers]
        layer = _choice(
            c, table["layer"], (*path, "layer"), options, "a layer of this compact", None
        )
        if layer is None:
            return None
    every = _duration(c, table.get("every", "365d"), (*path, "every"))
    if every is not None and (every < 86400 or every % 86400):
        c.add((*path, "every"), f"{format_duration(every)} is not a whole number of days (≥ 1d)")
        return None
    if mid is None or title is None or kind is None or every is None:
        return None
    return Meeting(
        id=mid,
        title=title,
        kind=kind,
        layer=Layer(layer) if layer else None,
        every_days=int(every // 86400),
    )


# -- sharing (missile-warning data; docs/warning-data.md) --

_SHARING_KEYS = (
    "raw_reports_to",
    "tracks_to",
    "track_authority",
    "alert_channel",
    "classification",
    "sensors",
)
_SENSOR_KEYS = ("id", "nation", "kind", "name", "lat", "lon", "hae", "host")


def _party_list(c: _Checker, raw: object, path: TomlPath, ctx: _Context) -> list[NationCode] | None:
    """``"all"`` or an array of party codes (each once)."""
    if raw == "all":
        return list(ctx.codes)
    if not isinstance(raw, list):
        c.add(path, f'expected "all" or an array of party codes, got {_kind(raw)}')
        return None
    out: list[NationCode] = []
    for i, item in enumerate(raw):
        code = _choice(c, item, (*path, i), ctx.codes, "a party of this compact", None)
        if code is not None and NationCode(code) in out:
            c.add((*path, i), f"{code!r} is listed twice")
        elif code is not None:
            out.append(NationCode(code))
    return out


def _raw_reports_to(
    c: _Checker, raw: object, ctx: _Context
) -> dict[NationCode, tuple[NationCode, ...]]:
    """One array for every party, or a table ``ORIGIN = [recipients]`` per party."""
    path: TomlPath = ("sharing", "raw_reports_to")
    if isinstance(raw, dict):
        out: dict[NationCode, tuple[NationCode, ...]] = {}
        for origin, value in raw.items():
            if origin not in ctx.codes:
                c.add((*path, origin), f"{origin!r} is not a party of this compact")
                continue
            to = _party_list(c, value, (*path, origin), ctx)
            if to is not None:
                out[NationCode(origin)] = tuple(n for n in to if n != origin)
        return out
    to = _party_list(c, raw, path, ctx)
    if to is None:
        return {}
    return {p: tuple(n for n in to if n != p) for p in ctx.codes}


def _number(
    c: _Checker, value: object, path: TomlPath, lo: float, hi: float, unit: str
) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        c.add(path, f"expected a number ({unit}), got {_kind(value)} {value!r}")
        return None
    if not (math.isfinite(value) and lo <= value <= hi):
        c.add(path, f"{value!r} is out of range {lo:g}..{hi:g} ({unit})")
        return None
    return float(value)


def _sensor(c: _Checker, raw: object, path: TomlPath, ctx: _Context) -> Sensor | None:
    required = ("id", "nation", "kind", "name", "lat", "lon")
    table = _keys(c, raw, path, _SENSOR_KEYS, required=required)
    if table is None or not set(required) <= table.keys():
        return None
    sid = _ident(c, table["id"], (*path, "id"), "sensor id")
    nation = _choice(c, table["nation"], (*path, "nation"), ctx.codes, "a party", None)
    kind = _choice(c, table["kind"], (*path, "kind"), SENSOR_KINDS, "a sensor kind", None)
    name = _text(c, table["name"], (*path, "name"))
    lat = _number(c, table["lat"], (*path, "lat"), -90.0, 90.0, "degrees WGS-84")
    lon = _number(c, table["lon"], (*path, "lon"), -180.0, 180.0, "degrees WGS-84")
    hae = _number(c, table.get("hae", 0.0), (*path, "hae"), -12_000.0, 5.0e7, "metres")
    host: str | None = None
    if "host" in table:
        host = _choice(c, table["host"], (*path, "host"), ctx.codes, "a party", None)
        if host is not None and host == nation:
            c.add((*path, "host"), f"{host!r} is the sensor's own nation; leave host out")
            host = None
    if None in (sid, nation, kind, name, lat, lon, hae):
        return None
    return Sensor(
        id=str(sid),
        nation=NationCode(str(nation)),
        kind=str(kind),
        name=str(name),
        lat=float(lat or 0.0),
        lon=float(lon or 0.0),
        hae=float(hae or 0.0),
        host=NationCode(host) if host else None,
    )


def _sharing(c: _Checker, raw: object, ctx: _Context, channels: Sequence[Channel]) -> Sharing:
    table = _keys(c, raw, ("sharing",), _SHARING_KEYS)
    if table is None:
        return Sharing()
    raw_to = _raw_reports_to(c, table.get("raw_reports_to", []), ctx)
    tracks_to = _party_list(c, table.get("tracks_to", "all"), ("sharing", "tracks_to"), ctx) or []
    authority: NationCode | None = None
    if "track_authority" in table:
        code = _choice(
            c, table["track_authority"], ("sharing", "track_authority"), ctx.codes, "a party", None
        )
        authority = NationCode(code) if code else None
    if authority is not None:
        for origin in ctx.codes:
            if origin != authority and authority not in raw_to.get(origin, ()):
                c.add(
                    ("sharing", "raw_reports_to"),
                    f"track_authority {authority} does not receive {origin}'s raw reports "
                    f"(add {authority} to raw_reports_to): it could not fuse one picture",
                )
    alert_channel: ChannelId | None = None
    if "alert_channel" in table:
        path: TomlPath = ("sharing", "alert_channel")
        by_id = {ch.id: ch for ch in channels}
        ch = by_id.get(ChannelId(str(table["alert_channel"])))
        if ch is None:
            c.add(path, f"{table['alert_channel']!r} is not a channel of this compact")
        elif authority is None:
            c.add(path, "automatic alerts need a track_authority to raise them")
        elif authority not in ch.members:
            c.add(path, f"{ch.id} does not include the track_authority {authority}")
        else:
            left_out = [m for m in ch.members if m != authority and m not in tracks_to]
            if left_out:
                c.add(path, f"{ch.id} includes {left_out[0]}, which tracks_to leaves out")
            else:
                alert_channel = ch.id
    level = Classification.SECRET
    if "classification" in table:
        options = [str(x) for x in ctx.classifications]
        got = _choice(
            c,
            table["classification"],
            ("sharing", "classification"),
            options,
            "a classification of this compact",
            None,
        )
        level = Classification(got) if got else level
    sensors: list[Sensor] = []
    seen: set[str] = set()
    items = _array(c, table.get("sensors", []), ("sharing", "sensors"))
    for i, item in enumerate(items):
        sensor = _sensor(c, item, ("sharing", "sensors", i), ctx)
        if sensor is None:
            continue
        if sensor.id in seen:
            c.add(("sharing", "sensors", i, "id"), f"sensor {sensor.id!r} is already defined")
            continue
        seen.add(sensor.id)
        sensors.append(sensor)
    return Sharing(
        raw_reports_to=raw_to,
        tracks_to=tuple(tracks_to),
        track_authority=authority,
        alert_channel=alert_channel,
        classification=level,
        sensors=tuple(sensors),
    )
