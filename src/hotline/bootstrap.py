"""The one composition root: settings in, a wired node out. Tests call it with fakes."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from hotline.api.app import ApiDeps, create_app, with_fast_send
from hotline.api.consultations import consultation_routes
from hotline.api.warning import warning_routes
from hotline.bus.memory import MemoryBus
from hotline.compacts import load_compact
from hotline.domain.compact import Compact
from hotline.domain.ids import NationCode
from hotline.errors import ConfigError
from hotline.federation.pins import pinned_signing_keys
from hotline.ports import Clock, SystemClock
from hotline.service.auth import AuthService
from hotline.service.consultation import ConsultationService
from hotline.service.hotline import HotlineService
from hotline.service.ledger import LedgerService
from hotline.service.warning import WarningService
from hotline.settings import Settings
from hotline.signing import Signer
from hotline.store.projections import index_own_receipts
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
    consultations: ConsultationService
    warning: WarningService
    extra_routes: list[Any] = field(default_factory=list)

    def deps(self) -> ApiDeps:
        return ApiDeps(
            compact=self.compact,
            nation=self.nation,
            auth=self.auth,
            hotline=self.hotline,
            max_body_bytes=self.settings.api.max_body_bytes,
            extra_routes=self.extra_routes,
            ledger_head=self.ledger.head_view,
        )

    def app(self) -> Any:
        """The Litestar application: every route and the OpenAPI document."""
        return create_app(self.deps())

    def asgi(self) -> Any:
        """What the server runs: the application with the send route's fast path."""
        deps = self.deps()
        return with_fast_send(create_app(deps), deps)

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
    store = SqliteStore(node_dir / settings.db, gather_s=settings.store.commit_gather_s)
    store.run_sync(partial(index_own_receipts, nation=nation))
    signer = Signer.from_file(nation, node_dir / SIGNING_KEY)
    bus = MemoryBus()
    auth = AuthService(compact, nation, store, clock, settings.api.token_ttl_s)
    hotline = HotlineService(compact, nation, store, bus, signer, clock)
    consultations = ConsultationService(compact, nation, store, bus, signer, clock, hotline)
    peers = settings.federation.peers
    consultations.pin_keys(pinned_signing_keys(node_dir, compact, signer, peers))
    warning = WarningService(compact, nation, store, bus, hotline, clock)
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
        consultations=consultations,
        warning=warning,
        extra_routes=[*consultation_routes(auth, consultations), *warning_routes(auth, warning)],
    )
