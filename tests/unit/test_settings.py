"""Settings: defaults < node.toml < HOTLINE_* environment; bad input names the key."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from hotline.errors import ConfigError
from hotline.settings import ENV_KEYS, Settings, load_settings, write_settings

DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def _all_keys(struct: type[msgspec.Struct], prefix: str = "") -> list[str]:
    keys = []
    for f in msgspec.structs.fields(struct):
        sub = f.type if isinstance(f.type, type) and issubclass(f.type, msgspec.Struct) else None
        if sub is not None:
            keys += _all_keys(sub, f"{prefix}{f.name}.")
        else:
            keys.append(prefix + f.name)
    return keys


def test_every_setting_and_variable_is_documented() -> None:
    text = DOCS.read_text()
    for key in _all_keys(Settings):
        assert f"`{key}`" in text, f"{key} is not in docs/configuration.md"
    for var in ENV_KEYS:
        assert f"`{var}`" in text, f"{var} is not in docs/configuration.md"


def test_round_trip_and_environment_override(tmp_path: Path) -> None:
    write_settings(tmp_path, Settings(nation="JPN", demo=True))
    s = load_settings(tmp_path, {"HOTLINE_API_PORT": "9999", "HOTLINE_LOG_LEVEL": "info"})
    assert (s.nation, s.demo, s.api.port, s.log_level) == ("JPN", True, 9999, "info")


def test_unknown_key_names_it(tmp_path: Path) -> None:
    (tmp_path / "node.toml").write_text('nation = "USA"\n[api]\nprot = 1\n')
    with pytest.raises(ConfigError, match="prot"):
        load_settings(tmp_path, {})


def test_unknown_variable_names_it(tmp_path: Path) -> None:
    write_settings(tmp_path, Settings(nation="USA"))
    with pytest.raises(ConfigError, match="HOTLINE_API_PROT"):
        load_settings(tmp_path, {"HOTLINE_API_PROT": "1"})


def test_bad_value_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "node.toml").write_text('nation = "USA"\n[api]\nport = "x"\n')
    with pytest.raises(ConfigError, match=r"node\.toml.*api\.port"):
        load_settings(tmp_path, {})


def test_missing_folder_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="hotline node init"):
        load_settings(tmp_path / "nope", {})


@pytest.mark.parametrize(
    ("section", "key", "value", "bound"),
    [
        ("federation", "batch_max", "0", ">= 1"),
        ("federation", "backoff_min_s", "0", "> 0"),
        ("federation", "backoff_max_s", "-1.0", "> 0"),
        ("federation", "receipt_delay_s", "-0.5", ">= 0"),
        ("federation", "link_test_interval_s", "-1", ">= 0"),
        ("api", "max_body_bytes", "0", ">= 1"),
        ("api", "token_ttl_s", "0", "> 0"),
        ("store", "commit_gather_s", "-0.001", ">= 0"),
        ("store", "commit_gather_s", "0.5", "<= 0.01"),
    ],
)
def test_out_of_range_values_name_the_key_and_the_bound(
    tmp_path: Path, section: str, key: str, value: str, bound: str
) -> None:
    """A batch of 0 events would never send, a backoff of 0 would spin: refused at start."""
    (tmp_path / "node.toml").write_text(f'nation = "USA"\n[{section}]\n{key} = {value}\n')
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path, {})
    assert f"{section}.{key}" in str(info.value) and bound in str(info.value)
