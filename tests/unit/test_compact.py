"""The bundled compacts, channel generation, the official forms and durations."""

from __future__ import annotations

import re
from pathlib import Path

import msgspec
import pytest

from hotline.compacts import (
    bundled_compacts,
    format_duration,
    load_compact,
    parse_compact,
    parse_duration,
)
from hotline.domain.compact import DEFAULT_ACK_S, Compact
from hotline.domain.ids import LAYERS, Classification, Handle, Layer, NationCode, Precedence

USA, JPN, KOR = NationCode("USA"), NationCode("JPN"), NationCode("KOR")
BUNDLED = Path(__file__).parents[2] / "src" / "hotline" / "compacts"


def write(tmp_path: Path, text: str, name: str = "test.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def small(parties: int, channels: str, officials: str = "") -> str:
    """A compact of ``parties`` parties with one default official per layer."""
    rows = "\n".join(
        f'{{ code = "{chr(65 + i) * 3}", name = "Nation {i}" }},' for i in range(parties)
    )
    defaults = officials or 'leaders = ["Leader of {name}"]\nops = ["Ops of {name}", "Duty"]'
    return (
        f'id = "small"\ntitle = "Small"\nlayers = ["leaders", "ops"]\n'
        f"parties = [\n{rows}\n]\n[channels]\n{channels}\n[official_defaults]\n{defaults}\n"
    )


# ---- camp-david ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def camp_david() -> Compact:
    return load_compact("camp-david")


def test_bundled_compacts_are_listed() -> None:
    assert {"camp-david", "nato-32"} <= set(bundled_compacts())


def test_camp_david_parties_in_order(camp_david: Compact) -> None:
    assert camp_david.id == "camp-david"
    assert [(p.code, p.name, p.timezone) for p in camp_david.parties] == [
        ("USA", "United States", "America/New_York"),
        ("JPN", "Japan", "Asia/Tokyo"),
        ("KOR", "Republic of Korea", "Asia/Seoul"),
    ]
    assert camp_david.layers == LAYERS
    assert camp_david.classifications == tuple(Classification)


def test_camp_david_has_exactly_the_20_channels(camp_david: Compact) -> None:
    expected: list[tuple[str, tuple[str, ...]]] = []
    for layer in ("leaders", "nsa", "foreign", "defense", "ops"):
        expected += [
            (f"{layer}.usa-jpn-kor", ("USA", "JPN", "KOR")),
            (f"{layer}.usa-jpn", ("USA", "JPN")),
            (f"{layer}.usa-kor", ("USA", "KOR")),
            (f"{layer}.jpn-kor", ("JPN", "KOR")),
        ]
    assert [(c.id, c.members) for c in camp_david.channels] == expected
    assert all(c.id.startswith(f"{c.layer}.") for c in camp_david.channels)
    assert camp_david.channel(camp_david.channels[0].id) is camp_david.channels[0]
    kinds = [c.kind for c in camp_david.channels_for(KOR, Layer.DEFENSE)]
    assert kinds == ["trilateral", "bilateral", "bilateral"]


def test_camp_david_officials(camp_david: Compact) -> None:
    handle = re.compile(r"(usa|jpn|kor)\.(leaders|nsa|foreign|defense|ops)(\.[2-9])?")
    assert all(handle.fullmatch(o.handle) for o in camp_david.officials)
    for party in camp_david.parties:
        for layer in camp_david.layers:
            chain = camp_david.officials_of(party.code, layer)
            assert len(chain) >= 2, (party.code, layer)  # a principal and at least one alternate
            assert [o.rank for o in chain] == list(range(len(chain)))
            assert all(o.timezone == party.timezone for o in chain)
    titles: dict[str, str] = {o.handle: o.title for o in camp_david.officials}
    assert titles["usa.leaders"] == "President of the United States"
    assert titles["usa.leaders.2"] == "Vice President"
    assert titles["jpn.leaders"] == "Prime Minister of Japan"
    assert titles["jpn.leaders.2"] == "Chief Cabinet Secretary"
    assert titles["kor.leaders"] == "President of the Republic of Korea"
    assert titles["kor.leaders.2"] == "Prime Minister"
    assert titles["usa.nsa"] == "National Security Advisor"
    assert titles["jpn.nsa"] == "Secretary-General of the National Security Secretariat"
    assert titles["kor.nsa"] == "Director of National Security"
    assert titles["usa.ops"] == "White House Situation Room"
    assert titles["kor.ops"] == "National Crisis Management Center"
    assert "Duty" in titles["usa.ops.2"]
    principal = camp_david.principal(JPN, Layer.OPS)
    assert principal is not None and principal.handle == "jpn.ops"


def test_camp_david_treaties(camp_david: Compact) -> None:
    us_japan = camp_david.treaty("us-japan-1960")
    us_rok = camp_david.treaty("us-rok-1953")
    consult = camp_david.treaty("camp-david-2023")
    assert us_japan is not None and us_rok is not None and consult is not None
    assert (us_japan.kind, us_japan.article, us_japan.parties) == ("defend", "Art. V", (USA, JPN))
    assert us_japan.covers == (JPN,) and not us_japan.triggered_by(USA)
    assert "territories under the administration of Japan" in us_japan.text
    assert (us_rok.kind, us_rok.article, us_rok.parties) == ("defend", "Art. III", (USA, KOR))
    assert us_rok.triggered_by(USA) and us_rok.triggered_by(KOR)
    assert (consult.kind, consult.legal, consult.parties) == ("consult", False, (USA, JPN, KOR))
    assert "consult trilaterally" in consult.text and "expeditious manner" in consult.text


def test_camp_david_deadlines_severities_cadence(camp_david: Compact) -> None:
    assert camp_david.ack_s == DEFAULT_ACK_S
    assert [(s.name, s.ack_s, s.convene_s) for s in camp_david.severities] == [
        ("critical", 900.0, 3600.0),
        ("high", 3600.0, 21600.0),
        ("elevated", 21600.0, 172800.0),
    ]
    cadence = camp_david.cadence
    assert (cadence.link_test_interval_s, cadence.link_test_timeout_s) == (3600.0, 60.0)
    meetings = {m.layer: m for m in cadence.meetings if m.kind == "meeting"}
    assert set(meetings) == {Layer.LEADERS, Layer.FOREIGN, Layer.DEFENSE, Layer.NSA}
    assert all(m.every_days <= 365 for m in cadence.meetings)
    [exercise] = [m for m in cadence.meetings if m.kind == "exercise"]
    assert "Freedom Edge" in exercise.title and exercise.every_days == 365


# ---- nato-32 ---------------------------------------------------------------------------------


def test_nato_32_loads_with_multilateral_channels() -> None:
    nato = load_compact("nato-32")
    codes = nato.nations
    assert len(codes) == 32 == len(set(codes))
    assert all(re.fullmatch(r"[A-Z]{3}", c) for c in codes)
    assert {"USA", "CAN", "FIN", "SWE", "TUR", "MKD"} <= set(codes)
    everyone = [c for c in nato.channels if len(c.members) == 32]
    assert [c.layer for c in everyone] == list(LAYERS)
    assert everyone[0].members == codes
    assert len(nato.channels) < 100  # not the 2480 of every pair
    assert nato.channel(nato.channels[1].id) is not None
    for party in nato.parties:
        for layer in LAYERS:
            assert nato.principal(party.code, layer) is not None
    art5, art4 = nato.treaty("north-atlantic-art5"), nato.treaty("north-atlantic-art4")
    assert art5 is not None and art4 is not None
    assert (art5.kind, art5.article, art4.kind, art4.article) == (
        "defend",
        "Art. 5",
        "consult",
        "Art. 4",
    )
    assert art5.parties == art4.parties == codes
    assert all(art5.triggered_by(c) and art4.triggered_by(c) for c in codes)
    fra = nato.principal(NationCode("FRA"), Layer.OPS)
    assert fra is not None and fra.title == "National Crisis Centre of France"


# ---- loading -----------------------------------------------------------------------------------


def test_loading_is_deterministic(tmp_path: Path) -> None:
    text = (BUNDLED / "camp-david.toml").read_text(encoding="utf-8")
    path = write(tmp_path, text, "camp-david.toml")
    loads = [load_compact("camp-david"), load_compact(path), load_compact(str(path))]
    loads.append(parse_compact(text, "camp-david.toml"))
    encoded = {msgspec.json.encode(c) for c in loads}
    assert len(encoded) == 1
    assert all(c == loads[0] for c in loads)


def test_generate_all_gives_the_all_party_channel_and_every_pair(tmp_path: Path) -> None:
    compact = load_compact(write(tmp_path, small(4, 'generate = "all"')))
    leaders = [c.id for c in compact.channels if c.layer == Layer.LEADERS]
    assert leaders == [
        "leaders.aaa-bbb-ccc-ddd",
        "leaders.aaa-bbb",
        "leaders.aaa-ccc",
        "leaders.aaa-ddd",
        "leaders.bbb-ccc",
        "leaders.bbb-ddd",
        "leaders.ccc-ddd",
    ]
    assert len(compact.channels) == 14


def test_two_parties_have_one_channel_per_layer(tmp_path: Path) -> None:
    compact = load_compact(write(tmp_path, small(2, 'generate = "all"')))
    assert [c.id for c in compact.channels] == ["leaders.aaa-bbb", "ops.aaa-bbb"]


def test_multilateral_pairs_layers_and_extra_channels(tmp_path: Path) -> None:
    channels = "\n".join(
        [
            'generate = "multilateral"',
            'layers = ["ops"]',
            'pairs = [["CCC", "AAA"]]',
            'max_classification = "secret"',
            'extra = [{ layer = "leaders", members = ["DDD", "BBB", "AAA"], '
            'max_classification = "confidential" }]',
        ]
    )
    compact = load_compact(write(tmp_path, small(4, channels)))
    assert [(c.id, c.members, c.max_classification) for c in compact.channels] == [
        ("ops.aaa-bbb-ccc-ddd", ("AAA", "BBB", "CCC", "DDD"), Classification.SECRET),
        ("ops.aaa-ccc", ("AAA", "CCC"), Classification.SECRET),
        ("leaders.aaa-bbb-ddd", ("AAA", "BBB", "DDD"), Classification.CONFIDENTIAL),
    ]


def test_generate_none_is_only_what_is_listed(tmp_path: Path) -> None:
    compact = load_compact(write(tmp_path, small(3, 'generate = "none"\npairs = [["AAA", "BBB"]]')))
    assert [c.id for c in compact.channels] == ["leaders.aaa-bbb", "ops.aaa-bbb"]


def test_official_forms_defaults_and_overrides(tmp_path: Path) -> None:
    text = small(2, 'generate = "multilateral"') + "\n".join(
        [
            "[officials.bbb]",
            'ops = ["Bravo Watch", { title = "Watch Officer", name = "Night watch",'
            ' clearance = "secret", timezone = "Asia/Tokyo", handle = "bbb.ops.2" }]',
        ]
    )
    compact = load_compact(write(tmp_path, text))
    aaa = compact.officials_of(NationCode("AAA"), Layer.OPS)
    assert [(o.handle, o.title, o.rank) for o in aaa] == [
        ("aaa.ops", "Ops of Nation 0", 0),
        ("aaa.ops.2", "Duty", 1),
    ]
    bbb = compact.officials_of(NationCode("BBB"), Layer.OPS)
    assert [(o.handle, o.title, o.name, o.clearance, o.timezone) for o in bbb] == [
        ("bbb.ops", "Bravo Watch", "Bravo Watch", Classification.TOP_SECRET, "UTC"),
        ("bbb.ops.2", "Watch Officer", "Night watch", Classification.SECRET, "Asia/Tokyo"),
    ]
    leader = compact.principal(NationCode("BBB"), Layer.LEADERS)
    assert leader is not None and leader.title == "Leader of Nation 1"


def test_defaults_apply_when_sections_are_left_out(tmp_path: Path) -> None:
    compact = load_compact(write(tmp_path, small(2, "")))
    assert compact.ack_s == DEFAULT_ACK_S
    assert compact.classifications == tuple(Classification)
    assert len(compact.channels) == 2  # generate = "all" by default
    assert compact.treaties == () and compact.severities == ()
    assert compact.cadence.link_test_interval_s == 3600.0


def test_a_compact_can_tighten_flash(tmp_path: Path) -> None:
    text = small(2, "") + '[ack_deadlines]\nflash = "2m"\nimmediate = 600\n'
    compact = load_compact(write(tmp_path, text))
    assert compact.ack_s[Precedence.FLASH] == 120.0
    assert compact.ack_s[Precedence.IMMEDIATE] == 600.0
    assert compact.ack_s[Precedence.ROUTINE] == DEFAULT_ACK_S[Precedence.ROUTINE]


# ---- durations ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        ("45s", 45.0),
        ("10m", 600.0),
        ("3h", 10800.0),
        ("6h", 21600.0),
        ("365d", 365 * 86400.0),
        ("1h30m", 5400.0),
        ("1.5s", 1.5),
        ("250ms", 0.25),
        (" 10m ", 600.0),
        (60, 60.0),
        (2.5, 2.5),
    ],
)
def test_parse_duration(raw: str | float, seconds: float) -> None:
    assert parse_duration(raw) == seconds


@pytest.mark.parametrize("raw", ["", "10", "10 min", "m10", "1h 30m", "-5m", True, None, [], "inf"])
def test_parse_duration_refuses(raw: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(raw)


def test_format_duration() -> None:
    assert [format_duration(s) for s in (45, 600, 10800, 5400, 86400 * 365, 1.5)] == [
        "45s",
        "10m",
        "3h",
        "1h30m",
        "365d",
        "1.5s",
    ]


def test_party_pins_are_kept(tmp_path: Path) -> None:
    pins = (
        'federation = "127.0.0.1:8821", ca_fingerprint = "' + "ab" * 32 + '", '
        'signing_key = "' + "A" * 43 + '="'
    )
    text = small(2, "").replace('name = "Nation 0" }', f'name = "Nation 0", {pins} }}')
    party = load_compact(write(tmp_path, text)).parties[0]
    assert (party.federation, party.ca_fingerprint, party.signing_key) == (
        "127.0.0.1:8821",
        "ab" * 32,
        "A" * 43 + "=",
    )


def test_the_worked_example_in_the_docs_loads() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "compact.md").read_text(encoding="utf-8")
    example = doc.split("```toml\n", 1)[1].split("```", 1)[0]
    compact = parse_compact(example, "example.toml")
    assert [c.id for c in compact.channels] == [
        "leaders.aus-gbr-usa",
        "leaders.aus-usa",
        "ops.aus-gbr-usa",
        "ops.aus-usa",
        "ops.gbr-usa",
    ]
    assert len(compact.officials) == 12
    vice = compact.official(Handle("usa.leaders.2"))
    assert vice is not None and vice.clearance == Classification.CONFIDENTIAL
