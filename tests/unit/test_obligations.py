"""The obligations engine on Camp David 2023 and on a small NATO-like compact."""

from __future__ import annotations

import itertools

import pytest

from hotline.domain.compact import DEFAULT_ACK_S, Channel, Compact, Party, Treaty
from hotline.domain.ids import LAYERS, NationCode, channel_id
from hotline.domain.obligations import Obligation, obligations
from hotline.errors import Invalid

USA, JPN, KOR = NationCode("USA"), NationCode("JPN"), NationCode("KOR")


def make_compact(cid: str, nations: tuple[str, ...], treaties: tuple[Treaty, ...]) -> Compact:
    codes = tuple(NationCode(n) for n in nations)
    return Compact(
        id=cid,
        title=cid,
        parties=tuple(Party(code=c, name=c) for c in codes),
        layers=LAYERS,
        officials=(),
        channels=tuple(
            Channel(id=channel_id(layer.value, members), layer=layer, members=members)
            for layer in LAYERS
            for members in itertools.combinations(codes, 2)
        ),
        treaties=treaties,
        ack_s=dict(DEFAULT_ACK_S),
    )


CAMP_DAVID = make_compact(
    "camp-david",
    ("USA", "JPN", "KOR"),
    (
        Treaty(
            id="us-japan-1960",
            title="Treaty of Mutual Cooperation and Security between Japan and the USA",
            kind="defend",
            parties=(USA, JPN),
            article="Art. V",
            covers=(JPN,),
        ),
        Treaty(
            id="us-rok-1953",
            title="Mutual Defense Treaty between the USA and the Republic of Korea",
            kind="defend",
            parties=(USA, KOR),
            article="Art. III",
        ),
        Treaty(
            id="camp-david-2023",
            title="Commitment to Consult",
            kind="consult",
            parties=(USA, JPN, KOR),
            legal=False,
        ),
    ),
)

NATO_NATIONS = ("USA", "GBR", "FRA", "DEU", "POL")
NATO = make_compact(
    "nato-5",
    NATO_NATIONS,
    (
        Treaty(
            id="nato-art-5",
            title="North Atlantic Treaty",
            kind="defend",
            parties=tuple(NationCode(n) for n in NATO_NATIONS),
            article="Art. 5",
        ),
        Treaty(
            id="nato-art-4",
            title="North Atlantic Treaty",
            kind="consult",
            parties=tuple(NationCode(n) for n in NATO_NATIONS),
            article="Art. 4",
        ),
    ),
)


def by_nation(result: tuple[Obligation, ...]) -> dict[str, Obligation]:
    return {o.nation: o for o in result}


def summary(result: tuple[Obligation, ...]) -> dict[str, tuple[str, tuple[str, ...]]]:
    return {
        o.nation: (o.kind, tuple(f"{s.treaty} {s.article}".strip() for s in o.sources))
        for o in result
    }


def test_attack_on_japan() -> None:
    assert summary(obligations(CAMP_DAVID, [JPN])) == {
        "USA": ("defend", ("us-japan-1960 Art. V",)),
        "JPN": ("threatened", ()),
        "KOR": ("consult", ("camp-david-2023",)),
    }


def test_attack_on_korea() -> None:
    assert summary(obligations(CAMP_DAVID, [KOR])) == {
        "USA": ("defend", ("us-rok-1953 Art. III",)),
        "JPN": ("consult", ("camp-david-2023",)),
        "KOR": ("threatened", ()),
    }


def test_attack_on_usa_japan_only_consults_korea_defends() -> None:
    # US–Japan Art. V covers only territories under the administration of Japan.
    assert summary(obligations(CAMP_DAVID, [USA])) == {
        "USA": ("threatened", ()),
        "JPN": ("consult", ("camp-david-2023",)),
        "KOR": ("defend", ("us-rok-1953 Art. III",)),
    }


def test_sources_carry_title_legal_kind_and_toward() -> None:
    result = by_nation(obligations(CAMP_DAVID, [JPN]))
    (usa,) = result["USA"].sources
    assert usa.title.startswith("Treaty of Mutual Cooperation")
    assert (usa.legal, usa.kind, usa.toward) == (True, "defend", (JPN,))
    (kor,) = result["KOR"].sources
    assert (kor.legal, kor.kind, kor.toward) == (False, "consult", (JPN,))
    assert result["JPN"].threatened and not result["USA"].threatened


def test_several_threatened_union_strongest_wins_all_sources_listed() -> None:
    result = by_nation(obligations(CAMP_DAVID, [KOR, JPN]))
    usa = result["USA"]
    assert usa.kind == "defend"
    assert [(s.treaty, s.toward) for s in usa.sources] == [
        ("us-japan-1960", (JPN,)),
        ("us-rok-1953", (KOR,)),
    ]
    # Japan and Korea are both under attack and owe each other consultation.
    assert (result["JPN"].kind, result["JPN"].threatened) == ("consult", True)
    assert result["JPN"].sources[0].toward == (KOR,)
    assert (result["KOR"].kind, result["KOR"].threatened) == ("consult", True)


def test_threatened_party_still_owes_defence_to_another_threatened_party() -> None:
    result = by_nation(obligations(CAMP_DAVID, [USA, JPN]))
    assert (result["USA"].kind, result["USA"].threatened) == ("defend", True)
    assert result["USA"].sources[0].treaty == "us-japan-1960"
    # Japan owes the USA consultation only (Art. V does not cover the USA).
    assert (result["JPN"].kind, result["JPN"].sources[0].treaty) == ("consult", "camp-david-2023")
    assert (result["KOR"].kind, result["KOR"].sources[0].toward) == ("defend", (USA,))


def test_order_is_compact_order_and_duplicates_are_ignored() -> None:
    result = obligations(CAMP_DAVID, [JPN, JPN])
    assert [o.nation for o in result] == ["USA", "JPN", "KOR"]


def test_nato_article_5_binds_every_other_ally() -> None:
    result = obligations(NATO, [NationCode("POL")])
    assert [o.kind for o in result] == ["defend", "defend", "defend", "defend", "threatened"]
    assert all(o.sources[0].article == "Art. 5" for o in result if o.kind == "defend")


def test_nato_consult_only_when_no_defend_treaty() -> None:
    art4_only = make_compact("nato-art4", NATO_NATIONS, (NATO.treaties[1],))
    result = by_nation(obligations(art4_only, [NationCode("DEU")]))
    assert result["USA"].kind == "consult"
    assert result["USA"].sources[0].article == "Art. 4"


def test_no_treaty_means_none() -> None:
    bare = make_compact("bare", ("USA", "JPN"), ())
    assert [o.kind for o in obligations(bare, [JPN])] == ["none", "threatened"]


def test_unknown_nation_is_invalid_with_clear_message() -> None:
    with pytest.raises(
        Invalid, match=r"'CHN' is not a party to compact 'camp-david' \(parties: USA, JPN, KOR\)"
    ):
        obligations(CAMP_DAVID, [JPN, NationCode("CHN")])


def test_nothing_threatened_is_invalid() -> None:
    with pytest.raises(Invalid, match="at least one threatened nation"):
        obligations(CAMP_DAVID, [])
