"""The one composition root: settings in, a wired node out. Tests call it with fakes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hotline.api.app import ApiDeps, create_app
from hotline.bus.memory import MemoryBus
from hotline.compacts import load_compact
from hotline.domain.compact import Compact
from hotline.domain.ids import NationCode
from hotline.errors import ConfigError
from hotline.ports import Clock, SystemClock
from hotline.service.auth import AuthService
from hotline.service.hotline import HotlineService
from hotline.service.ledger import LedgerService
from hotline.settings import Settings
from hotline.signing import Signer
from hotline.store.sqlite import SqliteStore

SIGNING_KEY = "signing.key"


@dataclass
class Node:
    settings: Settings
    node_dir: Path
    compact: Compact
    nation: NationCode
    store: SqliteStore
    bus: MemoryBus
    signer: Signer
    clock: Clock
    auth: AuthService
    hotline: HotlineService
    ledger: LedgerService
    extra_routes: list[Any] = field(default_factory=list)

    def app(self) -> Any:
        return create_app(
            ApiDeps(
                compact=self.compact,
                nation=self.nation,
                auth=self.auth,
                hotline=self.hotline,
                max_body_bytes=self.settings.api.max_body_bytes,
                extra_routes=self.extra_routes,
                ledger_head=self.ledger.head_view,
            )
        )

    def close(self) -> None:
        self.store.close()


def resolve_compact(settings: Settings, node_dir: Path) -> Compact:
    spec = settings.compact
    candidate = node_dir / spec
    return load_compact(candidate if candidate.is_file() else spec)


def build_node(settings: Settings, node_dir: Path, clock: Clock | None = None) -> Node:
    clock = clock or SystemClock()
    compact = resolve_compact(settings, node_dir)
    nation = NationCode(settings.nation.upper())
    if compact.party(nation) is None:
        raise ConfigError(
            f"{node_dir / 'node.toml'}: nation '{settings.nation}' is not a party of compact "
            f"{compact.id} ({', '.join(compact.nations)})"
        )
    store = SqliteStore(node_dir / settings.db)
    signer = Signer.from_file(nation, node_dir / SIGNING_KEY)
    bus = MemoryBus()
    auth = AuthService(compact, nation, store, clock, settings.api.token_ttl_s)
    hotline = HotlineService(compact, nation, store, bus, signer, clock)
    return Node(
        settings=settings,
        node_dir=node_dir,
        compact=compact,
        nation=nation,
        store=store,
        bus=bus,
        signer=signer,
        clock=clock,
        auth=auth,
        hotline=hotline,
        ledger=LedgerService(store, signer, clock),
    )
