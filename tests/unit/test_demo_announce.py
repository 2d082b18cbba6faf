"""What ``hotline demo`` prints for a new user: every node's URLs, officials' and sensors'
logins, and the first commands to try (no node is started: the text only)."""

from __future__ import annotations

import pytest

from hotline.demo import DemoCluster, _announce


def test_the_announcement_names_nodes_officials_and_sensor_accounts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    cluster = DemoCluster(base_port=9100, nations=["USA", "JPN", "KOR"])
    _announce(cluster, "camp-david", as_json=False)
    out = capsys.readouterr().out
    for nation in ("USA", "JPN", "KOR"):
        assert f"{nation}  console/API {cluster.url(nation)}" in out
    assert "usa.ops" in out and "jpn.leader" in out
    assert "usa.sensors, jpn.sensors, kor.sensors" in out
    assert "hotline send --node" in out


def test_a_large_coalition_lists_three_nations_and_says_there_are_more(
    capsys: pytest.CaptureFixture[str],
) -> None:
    cluster = DemoCluster(base_port=9100, compact="nato-32")
    cluster.nations = ["USA", "GBR", "FRA", "DEU"]
    _announce(cluster, "nato-32", as_json=False)
    out = capsys.readouterr().out
    assert "usa.sensors, gbr.sensors, fra.sensors, ..." in out
    assert "deu.sensors" not in out
