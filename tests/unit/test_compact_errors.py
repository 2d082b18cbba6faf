"""Every kind of mistake in a compact file is reported with file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotline.compacts import CompactError, load_compact, parse_compact
from hotline.domain.ids import Handle, Precedence
from hotline.errors import ConfigError

MINI = """\
id = "mini"
title = "Mini compact"
layers = ["leaders", "ops"]

[[parties]]
code = "AAA"
name = "Alpha"
timezone = "Europe/Paris"

[[parties]]
code = "BBB"
name = "Bravo"
timezone = "Asia/Tokyo"

[[parties]]
code = "CCC"
name = "Charlie"

[channels]
generate = "all"

[ack_deadlines]
flash = "5m"

[officials.aaa]
leaders = [{ title = "Alpha Leader" }, { title = "Alpha Deputy", clearance = "secret" }]
ops = ["Alpha Ops Centre", { handle = "aaa.ops.2", title = "Alpha Duty Officer" }]

[officials.bbb]
leaders = ["Bravo Leader", "Bravo Deputy"]
ops = ["Bravo Ops Centre", "Bravo Duty Officer"]

[officials.ccc]
leaders = ["Charlie Leader", "Charlie Deputy"]
ops = ["Charlie Ops Centre", "Charlie Duty Officer"]

[[treaties]]
id = "ab-treaty"
title = "Alpha-Bravo Treaty"
kind = "defend"
article = "Art. 1"
parties = ["AAA", "BBB"]
covers = ["BBB"]

[severities]
critical = { ack = "15m", convene = "1h" }

[cadence]
link_test_interval = "1h"
link_test_timeout = "60s"

[[cadence.meetings]]
id = "summit"
title = "Summit"
kind = "meeting"
layer = "leaders"
every = "365d"
"""

EXTRA = '\n[[channels.extra]]\nlayer = "ops"\n'


def line_of(text: str, needle: str) -> int:
    """The first line that is ``needle``, else the first line containing it."""
    lines = text.splitlines()
    for match in (lambda line: line == needle, lambda line: needle in line):
        for number, line in enumerate(lines, start=1):
            if match(line):
                return number
    raise AssertionError(f"{needle!r} not in the text")


def edit(*changes: tuple[str, str]) -> str:
    text = MINI
    for old, new in changes:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


def failure(tmp_path: Path, text: str) -> tuple[str, CompactError]:
    path = tmp_path / "mini.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CompactError) as caught:
        load_compact(path)
    return str(path), caught.value


def test_the_mini_compact_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "mini.toml"
    path.write_text(MINI, encoding="utf-8")
    compact = load_compact(path)
    assert len(compact.channels) == 8
    assert compact.official(Handle("aaa.leaders.2")) is not None


# Each case: the edit, the field reported, text on the line reported, words of the message.
CASES: dict[str, tuple[tuple[str, str], str, str, str]] = {
    "principal clearance": (
        ('{ title = "Alpha Leader" }', '{ title = "Alpha Leader", clearance = "topsecret" }'),
        "officials.aaa.leaders.clearance",
        'clearance = "topsecret"',
        "'topsecret' is not a classification (unclassified, confidential, secret, top_secret)",
    ),
    "alternate clearance": (
        ('clearance = "secret"', 'clearance = "Secret"'),
        "officials.aaa.leaders.2.clearance",
        'clearance = "Secret"',
        "'Secret' is not a classification",
    ),
    "clearance outside the compact's levels": (
        (
            'layers = ["leaders", "ops"]',
            'layers = ["leaders", "ops"]\nclassifications = ["unclassified", "confidential"]',
        ),
        "officials.aaa.leaders.2.clearance",
        'clearance = "secret"',
        "'secret' is not a classification of this compact (unclassified, confidential)",
    ),
    "nation code shape": (
        ('code = "BBB"', 'code = "Bb"'),
        "parties[1].code",
        'code = "Bb"',
        "'Bb' is not a nation code (3 upper-case letters",
    ),
    "nation code unique": (
        ('code = "CCC"', 'code = "AAA"\ntimezone = "UTC"'),
        "parties[2].code",
        'code = "AAA"\ntimezone',
        "'AAA' is already the code of parties[0]",
    ),
    "misspelled table": (
        ('[[parties]]\ncode = "BBB"', '[[partiez]]\ncode = "BBB"'),
        "partiez",
        "[[partiez]]",
        "unknown key 'partiez' (did you mean 'parties'?)",
    ),
    "party name missing": (
        ('name = "Bravo"\n', ""),
        "parties[1].name",
        '[[parties]]\ncode = "BBB"',
        "missing key 'name'",
    ),
    "time zone": (
        ('timezone = "Asia/Tokyo"', 'timezone = "Asia/Toyko"'),
        "parties.BBB.timezone",
        '"Asia/Toyko"',
        "'Asia/Toyko' is not an IANA time zone (e.g. 'Asia/Tokyo'); did you mean 'Asia/Tokyo'?",
    ),
    "unknown key in a party": (
        ('timezone = "Asia/Tokyo"', 'time_zone = "Asia/Tokyo"'),
        "parties[1].time_zone",
        "time_zone",
        "unknown key 'time_zone' (did you mean 'timezone'?)",
    ),
    "unknown top-level key": (
        ('title = "Mini compact"', 'title = "Mini compact"\ntitel = "typo"'),
        "titel",
        'titel = "typo"',
        "unknown key 'titel' (did you mean 'title'?)",
    ),
    "unknown key in an official": (
        ('title = "Alpha Deputy", clearance', 'title = "Alpha Deputy", clearence'),
        "officials.aaa.leaders.2.clearence",
        "clearence",
        "unknown key 'clearence' (did you mean 'clearance'?)",
    ),
    "official nation not a party": (
        ("[[treaties]]", '[officials.ddd]\nops = ["x"]\n\n[[treaties]]'),
        "officials.ddd",
        "[officials.ddd]",
        "unknown key 'ddd' (expected aaa, bbb, ccc)",
    ),
    "official nation upper case": (
        ("[officials.ccc]", "[officials.CCC]"),
        "officials.CCC",
        "[officials.CCC]",
        "unknown key 'CCC' (did you mean 'ccc'?)",
    ),
    "layer name": (
        ('layers = ["leaders", "ops"]', 'layers = ["leaders", "opz"]'),
        "layers[1]",
        'layers = ["leaders", "opz"]',
        "'opz' is not a layer (leaders, nsa, foreign, defense, ops)",
    ),
    "official layer not in the compact": (
        ('leaders = ["Bravo Leader", "Bravo Deputy"]', 'leaders = ["Bravo Leader"]\nnsa = ["x"]'),
        "officials.bbb.nsa",
        'nsa = ["x"]',
        "unknown key 'nsa' (expected leaders, ops)",
    ),
    "handle does not match its place": (
        ('handle = "aaa.ops.2"', 'handle = "aaa.ops.3"'),
        "officials.aaa.ops.2.handle",
        'handle = "aaa.ops.3"',
        "'aaa.ops.3' does not match its place in the list: entry 2 of aaa.ops is 'aaa.ops.2'",
    ),
    "missing principal": (
        ('ops = ["Charlie Ops Centre", "Charlie Duty Officer"]\n', ""),
        "officials.ccc.ops",
        "[officials.ccc]",
        "no principal for CCC at layer 'ops'",
    ),
    "empty layer list": (
        ('ops = ["Charlie Ops Centre", "Charlie Duty Officer"]', "ops = []"),
        "officials.ccc.ops",
        "ops = []",
        "list at least the principal",
    ),
    "channel member not a party": (
        ('every = "365d"\n', 'every = "365d"\n' + EXTRA + 'members = ["AAA", "ZZZ"]\n'),
        "channels.extra[0].members[1]",
        'members = ["AAA", "ZZZ"]',
        "'ZZZ' is not a party of this compact (AAA, BBB, CCC)",
    ),
    "channel id not canonical": (
        (
            'every = "365d"\n',
            'every = "365d"\n' + EXTRA + 'members = ["BBB", "AAA"]\nid = "ops.bbb-aaa"\n',
        ),
        "channels.extra[0].id",
        'id = "ops.bbb-aaa"',
        "'ops.bbb-aaa' is not the id of this channel: 'ops.aaa-bbb'",
    ),
    "channel duplicates a generated one": (
        ('every = "365d"\n', 'every = "365d"\n' + EXTRA + 'members = ["AAA", "BBB"]\n'),
        "channels.extra[0]",
        "[[channels.extra]]",
        "channel 'ops.aaa-bbb' is already defined",
    ),
    "channel layer": (
        (
            'every = "365d"\n',
            'every = "365d"\n' + EXTRA.replace('"ops"', '"nsa"') + 'members = ["AAA", "BBB"]\n',
        ),
        "channels.extra[0].layer",
        'layer = "nsa"',
        "'nsa' is not a layer of this compact (leaders, ops)",
    ),
    "generate mode": (
        ('generate = "all"', 'generate = "every"'),
        "channels.generate",
        'generate = "every"',
        "'every' is not a mode (all, multilateral, none)",
    ),
    "pair of one": (
        ('generate = "all"', 'generate = "none"\npairs = [["AAA"]]'),
        "channels.pairs[0]",
        'pairs = [["AAA"]]',
        "list at least 2 parties, got 1",
    ),
    "pair of three": (
        ('generate = "all"', 'generate = "none"\npairs = [["AAA", "BBB", "CCC"]]'),
        "channels.pairs[0]",
        "pairs = ",
        "a pair has 2 parties, got 3",
    ),
    "channel classification": (
        ('generate = "all"', 'generate = "all"\nmax_classification = "cosmic"'),
        "channels.max_classification",
        'max_classification = "cosmic"',
        "'cosmic' is not a classification of this compact (unclassified, confidential, secret, "
        "top_secret)",
    ),
    "flash loosened": (
        ('flash = "5m"', 'flash = "11m"'),
        "ack_deadlines.flash",
        'flash = "11m"',
        "11m loosens the default; a compact may only tighten it (≤ 10m)",
    ),
    "routine loosened in seconds": (
        ('flash = "5m"', 'flash = "5m"\nroutine = 21601'),
        "ack_deadlines.routine",
        "routine = 21601",
        "6h1s loosens the default; a compact may only tighten it (≤ 6h)",
    ),
    "deadlines out of order": (
        ('flash = "5m"', 'flash = "5m"\nimmediate = "4m"'),
        "ack_deadlines.immediate",
        'immediate = "4m"',
        "immediate (4m) is shorter than flash (5m); keep flash ≤ immediate ≤ priority ≤ routine",
    ),
    "deadline not a duration": (
        ('flash = "5m"', 'flash = "5 minutes"'),
        "ack_deadlines.flash",
        'flash = "5 minutes"',
        "'5 minutes' is not a duration",
    ),
    "unknown precedence": (
        ('flash = "5m"', 'flash = "5m"\nurgent = "1m"'),
        "ack_deadlines.urgent",
        'urgent = "1m"',
        "unknown key 'urgent' (expected flash, immediate, priority, routine)",
    ),
    "treaty kind": (
        ('kind = "defend"', 'kind = "protect"'),
        "treaties[0].kind",
        'kind = "protect"',
        "'protect' is not a kind (defend, consult)",
    ),
    "treaty party": (
        ('parties = ["AAA", "BBB"]', 'parties = ["AAA", "XYZ"]'),
        "treaties[0].parties[1]",
        'parties = ["AAA", "XYZ"]',
        "'XYZ' is not a party of this compact (AAA, BBB, CCC)",
    ),
    "treaty covers": (
        ('covers = ["BBB"]', 'covers = ["KOR"]'),
        "treaties[0].covers[0]",
        'covers = ["KOR"]',
        "'KOR' is not a party of this compact",
    ),
    "treaty legal": (
        ('article = "Art. 1"', 'article = "Art. 1"\nlegal = "yes"'),
        "treaties[0].legal",
        'legal = "yes"',
        "expected true or false, got a string",
    ),
    "treaty title missing": (
        ('title = "Alpha-Bravo Treaty"\n', ""),
        "treaties[0].title",
        "[[treaties]]",
        "missing key 'title'",
    ),
    "severity ack after convene": (
        ('critical = { ack = "15m", convene = "1h" }', 'critical = { ack = "2h", convene = "1h" }'),
        "severities.critical.ack",
        "critical = ",
        "ack 2h is later than convene 1h",
    ),
    "severity ack not positive": (
        ('ack = "15m"', "ack = 0"),
        "severities.critical.ack",
        "critical = ",
        "0 must be a positive duration",
    ),
    "severity key": (
        ('convene = "1h"', 'convene_s = "1h"'),
        "severities.critical.convene_s",
        "critical = ",
        "unknown key 'convene_s' (did you mean 'convene'?)",
    ),
    "link test interval": (
        ('link_test_interval = "1h"', 'link_test_interval = "1 hour"'),
        "cadence.link_test_interval",
        'link_test_interval = "1 hour"',
        "'1 hour' is not a duration",
    ),
    "link test timeout longer than interval": (
        ('link_test_timeout = "60s"', 'link_test_timeout = "2h"'),
        "cadence.link_test_timeout",
        'link_test_timeout = "2h"',
        "2h is longer than the link test interval 1h",
    ),
    "meeting kind": (
        ('kind = "meeting"', 'kind = "summit"'),
        "cadence.meetings[0].kind",
        'kind = "summit"',
        "'summit' is not a kind (meeting, exercise)",
    ),
    "meeting every": (
        ('every = "365d"', 'every = "36h"'),
        "cadence.meetings[0].every",
        'every = "36h"',
        "1d12h is not a whole number of days",
    ),
    "default template placeholder": (
        ("[[treaties]]", '[official_defaults]\nleaders = ["Leader of {country}"]\n\n[[treaties]]'),
        "official_defaults.leaders[0].title",
        "Leader of {country}",
        "unknown placeholder {country} (use {code}, {nation}, {name})",
    ),
    "compact id": (
        ('id = "mini"', 'id = "Mini Compact"'),
        "id",
        'id = "Mini Compact"',
        "'Mini Compact' is not a valid compact id",
    ),
    "federation address": (
        ('name = "Charlie"', 'name = "Charlie"\nfederation = "charlie.example"'),
        "parties.CCC.federation",
        'federation = "charlie.example"',
        "'charlie.example' is not a host:port such as 'hotline.example.gov:8821'",
    ),
    "signing key": (
        ('name = "Charlie"', 'name = "Charlie"\nsigning_key = "not-base64"'),
        "parties.CCC.signing_key",
        'signing_key = "not-base64"',
        "'not-base64' is not an Ed25519 public key (44 base64 characters)",
    ),
    "wrong type": (
        ('name = "Alpha"', "name = 7"),
        "parties.AAA.name",
        "name = 7",
        "expected a string, got an integer 7",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_mistake_is_reported_with_file_line_and_field(tmp_path: Path, case: str) -> None:
    change, fld, needle, words = CASES[case]
    text = edit(change)
    source, error = failure(tmp_path, text)
    line = text[: text.index(needle)].count("\n") + 1  # where the needle starts
    expected = f"{source}:{line}: {fld}: "
    matching = [row for row in str(error).splitlines() if row.startswith(expected)]
    assert matching, f"no line starts with {expected!r} in:\n{error}"
    assert any(words in row for row in matching), f"{words!r} not in:\n{error}"
    assert any(p[0] == line and p[1] == fld and words in p[2] for p in error.problems)


def test_the_error_is_a_config_error_with_a_code(tmp_path: Path) -> None:
    _, error = failure(tmp_path, edit(('flash = "5m"', 'flash = "1h"')))
    assert isinstance(error, ConfigError)
    assert error.code == "compact"
    assert str(error) == error.message


def test_every_mistake_in_a_file_is_reported_in_line_order(tmp_path: Path) -> None:
    text = edit(
        ('code = "BBB"', 'code = "bbb"'),
        ('flash = "5m"', 'flash = "20m"'),
        ('clearance = "secret"', 'clearance = "topsecret"'),
        ('kind = "defend"', 'kind = "protect"'),
        ('every = "365d"', 'every = "never"'),
    )
    source, error = failure(tmp_path, text)
    rows = str(error).splitlines()
    assert len(rows) == len(error.problems) >= 5
    assert all(row.startswith(f"{source}:") for row in rows)
    fields = [p[1] for p in error.problems]
    for fld in (
        "parties[1].code",
        "ack_deadlines.flash",
        "officials.aaa.leaders.2.clearance",
        "treaties[0].kind",
        "cadence.meetings[0].every",
    ):
        assert fld in fields, fld
    lines = [p[0] for p in error.problems]
    assert lines == sorted(lines)


def test_flash_can_be_tightened_but_not_loosened(tmp_path: Path) -> None:
    path = tmp_path / "mini.toml"
    path.write_text(edit(('flash = "5m"', 'flash = "10m"')), encoding="utf-8")
    assert load_compact(path).ack_s[Precedence.FLASH] == 600.0
    path.write_text(edit(('flash = "5m"', "flash = 601")), encoding="utf-8")
    with pytest.raises(CompactError, match=r"ack_deadlines\.flash: 10m1s loosens the default"):
        load_compact(path)


@pytest.mark.parametrize(
    ("old", "new", "needle"),
    [
        ('title = "Mini compact"', 'title = "Mini compact', 'title = "Mini compact'),
        ('generate = "all"', "generate = all", "generate = all"),
        ('[[parties]]\ncode = "BBB"', '[parties]\ncode = "BBB"', "[parties]"),
        ('flash = "5m"', 'flash = "5m"\nflash = "4m"', 'flash = "4m"'),
    ],
)
def test_toml_syntax_errors_name_the_line(tmp_path: Path, old: str, new: str, needle: str) -> None:
    text = edit((old, new))
    source, error = failure(tmp_path, text)
    assert len(error.problems) == 1
    assert str(error).startswith(f"{source}:{line_of(text, needle)}: not valid TOML: ")


def test_a_compact_needs_two_parties() -> None:
    text = 'id = "x"\ntitle = "X"\nlayers = ["ops"]\nparties = [{ code = "AAA", name = "A" }]\n'
    with pytest.raises(CompactError) as caught:
        parse_compact(text, "one.toml")
    assert caught.value.problems == [
        (4, "parties", "a compact needs at least 2 parties, got 1"),
        (
            4,
            "officials.aaa.ops",
            "no principal for AAA at layer 'ops' (list one here or under [official_defaults])",
        ),
    ]


def test_parse_compact_names_the_source_it_is_given() -> None:
    with pytest.raises(CompactError) as caught:
        parse_compact(MINI.replace('kind = "defend"', 'kind = "ally"'), "inline.toml")
    assert str(caught.value).startswith(
        f"inline.toml:{line_of(MINI, 'kind = ')}: treaties[0].kind:"
    )


def test_unknown_bundled_name_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CompactError, match=r"no bundled compact 'camp-davis' \(.*camp-david"):
        load_compact("camp-davis")
    missing = tmp_path / "nope.toml"
    with pytest.raises(CompactError, match=r"nope\.toml: cannot read the compact"):
        load_compact(missing)


def test_inline_array_items_are_located(tmp_path: Path) -> None:
    text = """\
id = "x"
title = "X"
layers = ["ops"]
parties = [
  { code = "AAA", name = "A" },
  # a comment with "quotes" and [brackets]
  { code = "BBB", name = "B", timezone = "Mars/Olympus" },
]
[official_defaults]
ops = ['''Ops "centre" of {name}''']
"""
    source, error = failure(tmp_path, text)
    assert str(error) == (
        f"{source}:7: parties.BBB.timezone: "
        "'Mars/Olympus' is not an IANA time zone (e.g. 'Asia/Tokyo')"
    )


def test_a_mistake_in_the_defaults_is_reported_once() -> None:
    rows = "\n".join(f'{{ code = "{c * 3}", name = "{c}" }},' for c in "ABCDEFGH")
    text = (
        'id = "x"\ntitle = "X"\nlayers = ["ops"]\nclassifications = ["secret"]\n'
        f"parties = [\n{rows}\n]\n"
        '[official_defaults]\nops = ["Ops of {name}", { title = "Duty", clearance = "top_secret",'
        ' handle = "x.ops.2" }]\n'
    )
    with pytest.raises(CompactError) as caught:
        parse_compact(text, "defaults.toml")
    assert [(line, fld) for line, fld, _ in caught.value.problems] == [
        (16, "official_defaults.ops[1].handle"),
        (16, "official_defaults.ops[1].clearance"),
    ]
    assert "'top_secret' is not a classification of this compact (secret)" in str(caught.value)
