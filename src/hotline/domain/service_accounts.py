"""Service accounts: machine principals that are not officials.

A nation's sensor feeds log in as ``<nation>.sensors`` (API.md). A service account has no
layer, belongs to no channel and receives no message; it may only do what its ``kind``
allows: a ``sensors`` account posts its own nation's sensor reports and reads the tracks.
"""

from __future__ import annotations

from dataclasses import dataclass

from hotline.domain.compact import Compact
from hotline.domain.ids import Handle, NationCode

#: What each kind of service account may do.
PERMISSIONS: dict[str, frozenset[str]] = {
    "sensors": frozenset({"reports:post", "tracks:read"}),
}


@dataclass(frozen=True, slots=True)
class ServiceAccount:
    handle: Handle
    nation: NationCode
    kind: str

    def may(self, action: str) -> bool:
        return action in PERMISSIONS.get(self.kind, frozenset())


def service_account(compact: Compact, handle: str) -> ServiceAccount | None:
    """``kor.sensors`` -> the KOR sensors account, if KOR is a party; else None."""
    nation, _, kind = handle.partition(".")
    if kind not in PERMISSIONS or not nation.islower():
        return None
    code = NationCode(nation.upper())
    if compact.party(code) is None:
        return None
    return ServiceAccount(Handle(handle), code, kind)


def service_accounts_of(compact: Compact, nation: NationCode) -> list[ServiceAccount]:
    """Every service account of ``nation`` (one per kind)."""
    return [ServiceAccount(Handle(f"{nation.lower()}.{k}"), nation, k) for k in PERMISSIONS]
