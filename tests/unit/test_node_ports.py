"""The ports ``hotline demo`` and ``hotline node init --base-port`` give each party: API.md's
layout for up to 9 parties (USA 8801 / 8811 / 8821), and no port given twice for NATO's 32."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotline.compacts import load_compact
from hotline.demo import DemoCluster
from hotline.domain.ids import NationCode
from hotline.errors import ConfigError
from hotline.node import init_node, node_ports, port_stride
from hotline.settings import load_settings


def test_camp_david_keeps_the_ports_api_md_gives() -> None:
    c = load_compact("camp-david")
    assert [node_ports(c, n, 8800) for n in ("USA", "JPN", "KOR")] == [
        (8801, 8811, 8821),
        (8802, 8812, 8822),
        (8803, 8813, 8823),
    ]
    cluster = DemoCluster(base_port=8800)
    assert cluster.url("JPN") == "http://127.0.0.1:8802"
    assert cluster.cot("KOR") == "tcp://127.0.0.1:8813"


def test_nato_32_gives_every_port_once() -> None:
    c = load_compact("nato-32")
    ports = [p for n in c.nations for p in node_ports(c, n, 9000)]
    assert len(c.nations) == 32 and len(set(ports)) == 96
    first, last = c.nations[0], c.nations[-1]
    assert node_ports(c, first, 9000) == (9001, 9101, 9201)
    assert node_ports(c, last, 9000) == (9032, 9132, 9232)


def test_the_stride_grows_past_nine_parties_only() -> None:
    assert [port_stride(n) for n in (1, 3, 9, 10, 32, 99, 100)] == [10, 10, 10, 100, 100, 100, 1000]


def test_a_node_is_told_its_peers_federation_ports(tmp_path: Path) -> None:
    init_node(tmp_path / "usa", "USA", "nato-32", demo=True, base_port=9000)
    settings = load_settings(tmp_path / "usa", {})
    c = load_compact("nato-32")
    assert settings.api.port == node_ports(c, "USA", 9000)[0]
    assert settings.federation.port == node_ports(c, "USA", 9000)[2]
    assert settings.federation.peers["GBR"] == f"127.0.0.1:{node_ports(c, 'GBR', 9000)[2]}"
    assert len(settings.federation.peers) == 31


def test_a_block_of_ports_outside_1_to_65535_is_refused() -> None:
    nato, camp = load_compact("nato-32"), load_compact("camp-david")
    assert node_ports(nato, "USA", 65303)[2] == 65303 + 200 + nato.nation_order(NationCode("USA"))
    with pytest.raises(ConfigError, match="ports 65305 to 65536"):
        node_ports(nato, "USA", 65304)
    with pytest.raises(ConfigError, match="a base port from 0 to 65512 fits"):
        node_ports(camp, "USA", -1)
