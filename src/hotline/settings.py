"""Node settings: defaults < ``DIR/node.toml`` < ``HOTLINE_*`` environment variables.

Built once at start by ``load_settings(dir, environ)``; unknown keys and bad values fail with a
ConfigError naming the key and where it came from. Every setting is listed in
``docs/configuration.md`` (a test checks it).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import msgspec

from hotline.errors import ConfigError

#: Counts and durations that must be positive (a batch of 0 would never send; a backoff of 0
#: would spin) or at least 0; a bad value fails at start with the key named.
Count = Annotated[int, msgspec.Meta(ge=1)]
Seconds = Annotated[float, msgspec.Meta(gt=0)]
SecondsOrZero = Annotated[float, msgspec.Meta(ge=0)]


class ApiSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    host: str = "127.0.0.1"
    port: int = 8801
    #: Largest request body accepted, bytes (413 above it).
    max_body_bytes: Count = 64 * 1024
    #: Bearer token lifetime, seconds.
    token_ttl_s: Seconds = 12 * 3600.0


class FederationSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    host: str = "127.0.0.1"
    port: int = 8821
    #: ``NATION = "host:port"`` of each peer's federation listener.
    peers: dict[str, str] = msgspec.field(default_factory=dict)
    #: Largest number of events in one pushed batch.
    batch_max: Count = 500
    #: Reconnection backoff bounds, seconds.
    backoff_min_s: Seconds = 0.05
    backoff_max_s: Seconds = 5.0
    #: Link-test interval override (seconds); 0 uses the compact's cadence.
    link_test_interval_s: SecondsOrZero = 0.0
    #: How long this node gathers the messages peers deliver before signing one receipt for
    #: them all (``MessagesDelivered``), seconds; 0 signs as soon as each batch is applied.
    receipt_delay_s: SecondsOrZero = 0.02
    #: Send a FLASH message ahead of the ROUTINE traffic queued before it on a peer's stream
    #: (the urgent lane, ``docs/federation.md``); off, it waits for its turn.
    urgent_lane: bool = True


class CotSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    host: str = "127.0.0.1"
    #: CoT TCP streaming port (0: off). Unauthenticated: bind it to loopback or the sensor LAN.
    port: int = 8811
    #: CoT TLS port (0: off); clients present a certificate of this nation's CA.
    tls_port: int = 0
    #: Largest CoT event accepted, bytes.
    max_event_bytes: int = 65536
    #: Most TAK clients connected at once (per port).
    max_clients: int = 64


class StoreSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    #: Under load (the previous group commit held more than one job), how long the writer
    #: waits for more jobs before committing, seconds; 0 never waits. FLASH messages and a
    #: lone job are never delayed (``docs/performance.md``, "Sixth session": the A/B).
    commit_gather_s: Annotated[float, msgspec.Meta(ge=0, le=0.01)] = 0.0002


class Settings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    nation: str
    #: Bundled compact name (``camp-david``) or a path to a compact TOML file.
    compact: str = "camp-david"
    #: Demo mode: every official's password is its handle. Never on a real node.
    demo: bool = False
    #: Database file, relative to the node directory.
    db: str = "hotline.db"
    api: ApiSettings = msgspec.field(default_factory=ApiSettings)
    federation: FederationSettings = msgspec.field(default_factory=FederationSettings)
    cot: CotSettings = msgspec.field(default_factory=CotSettings)
    store: StoreSettings = msgspec.field(default_factory=StoreSettings)
    #: Logging level of the node process.
    log_level: str = "warning"


ENV_PREFIX = "HOTLINE_"
#: Environment variables and the setting each overrides.
ENV_KEYS: dict[str, tuple[str, ...]] = {
    "HOTLINE_COMPACT": ("compact",),
    "HOTLINE_DB": ("db",),
    "HOTLINE_LOG_LEVEL": ("log_level",),
    "HOTLINE_API_HOST": ("api", "host"),
    "HOTLINE_API_PORT": ("api", "port"),
    "HOTLINE_API_MAX_BODY_BYTES": ("api", "max_body_bytes"),
    "HOTLINE_API_TOKEN_TTL_S": ("api", "token_ttl_s"),
    "HOTLINE_FEDERATION_HOST": ("federation", "host"),
    "HOTLINE_FEDERATION_PORT": ("federation", "port"),
    "HOTLINE_COT_PORT": ("cot", "port"),
    "HOTLINE_COT_TLS_PORT": ("cot", "tls_port"),
}

CONFIG_FILE = "node.toml"


def load_settings(node_dir: Path, environ: Mapping[str, str]) -> Settings:
    path = node_dir / CONFIG_FILE
    try:
        raw: dict[str, Any] = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(
            f"{path} does not exist: run 'hotline node init --dir {node_dir}' first"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    for key, where in ENV_KEYS.items():
        if key in environ:
            target = raw
            for part in where[:-1]:
                target = target.setdefault(part, {})
            target[where[-1]] = _coerce(key, environ[key])
    unknown = sorted(k for k in environ if k.startswith(ENV_PREFIX) and k not in ENV_KEYS)
    unknown = [k for k in unknown if not k.startswith("HOTLINE_TEST_")]
    if unknown:
        raise ConfigError(
            f"unknown environment variable {unknown[0]} (known: {', '.join(ENV_KEYS)})"
        )
    try:
        settings = msgspec.convert(raw, Settings)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    if not (1 <= settings.api.port <= 65535):
        raise ConfigError(f"{path}: api.port {settings.api.port} is not a TCP port")
    return settings


def _coerce(key: str, value: str) -> Any:
    try:
        return int(value)
    except ValueError:
        pass
    try:
        return float(value)
    except ValueError:
        pass
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    if not value:
        raise ConfigError(f"{key} is set but empty")
    return value


def write_settings(node_dir: Path, settings: Settings) -> Path:
    """Write ``node.toml`` (a small TOML writer: the settings are flat tables of scalars)."""
    lines: list[str] = []
    tables: list[tuple[str, dict[str, Any]]] = []
    for key, value in msgspec.to_builtins(settings).items():
        if isinstance(value, dict):
            tables.append((key, value))
        else:
            lines.append(f"{key} = {_toml(value)}")
    for name, table in tables:
        lines.append(f"\n[{name}]")
        subtables = []
        for key, value in table.items():
            if isinstance(value, dict):
                subtables.append((f"{name}.{key}", value))
            else:
                lines.append(f"{key} = {_toml(value)}")
        for sub, values in subtables:
            lines.append(f"\n[{sub}]")
            lines.extend(f"{k} = {_toml(v)}" for k, v in values.items())
    path = node_dir / CONFIG_FILE
    path.write_text("\n".join(lines) + "\n")
    return path


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    raise ConfigError(f"cannot write setting value {value!r}")
