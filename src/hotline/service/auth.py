"""Officials' accounts and bearer tokens.

Passwords are hashed with argon2id; a token is 256 random bits given to the official once and
stored only as its SHA-256; tokens expire and can be revoked. An official logs in to its own
nation's node only. Demo passwords (the handle itself) exist only when the node was initialised
in demo mode.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import sqlite3
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from hotline.domain.compact import Compact, Official
from hotline.domain.ids import Handle, NationCode
from hotline.domain.service_accounts import (
    ServiceAccount,
    service_account,
    service_accounts_of,
)
from hotline.errors import AuthError, Forbidden, Invalid
from hotline.ports import Clock, Store

#: Production cost: argon2id RFC 9106 low-memory profile (t=3, 64 MiB).
_HASHER = PasswordHasher()
#: Demo accounts are public by definition (password = handle): a cheap hash keeps start fast.
_DEMO_HASHER = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)

MIN_PASSWORD_CHARS = 12


@dataclass(frozen=True, slots=True)
class Session:
    official: Official
    token_hash: str
    expires_at: float


@dataclass(frozen=True, slots=True)
class ServiceSession:
    """A service account's session (``usa.sensors``): not an official, no layer."""

    account: ServiceAccount
    token_hash: str
    expires_at: float


Principal = Session | ServiceSession


#: Most token digests remembered (``AuthService.authenticate``).
_DIGEST_CACHE = 4096


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def seed_accounts(
    conn: sqlite3.Connection, compact: Compact, nation: NationCode, *, demo: bool, now: float
) -> dict[Handle, str]:
    """Create an account for every official of ``nation``; returns the initial passwords.

    In demo mode every password is the handle; otherwise each is random and must be handed to
    the official out of band (``node init`` writes them to a 0600 file).
    """
    passwords: dict[Handle, str] = {}
    for o in compact.officials:
        if o.nation != nation:
            continue
        pw = o.handle if demo else secrets.token_urlsafe(15)
        hasher = _DEMO_HASHER if demo else _HASHER
        conn.execute(
            "INSERT OR REPLACE INTO accounts(handle, hash, updated_at) VALUES (?, ?, ?)",
            (o.handle, hasher.hash(pw), now),
        )
        passwords[o.handle] = pw
    for account in service_accounts_of(compact, nation):
        pw = account.handle if demo else secrets.token_urlsafe(15)
        hasher = _DEMO_HASHER if demo else _HASHER
        conn.execute(
            "INSERT OR REPLACE INTO accounts(handle, hash, updated_at) VALUES (?, ?, ?)",
            (account.handle, hasher.hash(pw), now),
        )
        passwords[account.handle] = pw
    return passwords


class AuthService:
    def __init__(
        self, compact: Compact, nation: NationCode, store: Store, clock: Clock, token_ttl_s: float
    ) -> None:
        self.compact = compact
        self.nation = nation
        self.store = store
        self.clock = clock
        self.token_ttl_s = token_ttl_s
        self._sessions: dict[str, Session] = {}
        #: token -> its SHA-256 digest, for tokens that named a live session (a digest is a pure
        #: function of the token, so an entry is never wrong; bounded by ``_DIGEST_CACHE``).
        self._digests: dict[str, str] = {}
        self._service_sessions: dict[str, ServiceSession] = {}

    def is_service_account(self, handle: str) -> bool:
        return service_account(self.compact, handle) is not None

    async def login_service(self, handle: str, password: str) -> tuple[str, ServiceSession]:
        """Log in a service account of this nation (``jpn.sensors``); AuthError otherwise."""
        account = service_account(self.compact, handle)
        if account is None:
            raise AuthError("unknown handle or wrong password", code="bad_credentials")
        if account.nation != self.nation:
            raise AuthError(
                f"{handle} is a service account of {account.nation}; log in to "
                f"{account.nation}'s node (this is {self.nation}'s)",
                code="wrong_node",
            )
        await self._check_password(handle, password)
        token, digest, expires_at = await self._issue_token(handle)
        session = ServiceSession(account, digest, expires_at)
        self._service_sessions[session.token_hash] = session
        return token, session

    def authenticate_principal(self, token: str | None) -> Principal:
        """The live session of ``token``, an official's or a service account's."""
        if token:
            digest = token_digest(token)
            service = self._service_sessions.get(digest)
            if service is None and digest not in self._sessions:
                service = self._load_service_session(digest)
            if service is not None:
                if service.expires_at <= self.clock.now():
                    self._service_sessions.pop(digest, None)
                    raise AuthError("token expired: log in again", code="token_expired")
                return service
        return self.authenticate(token)

    def _load_service_session(self, digest: str) -> ServiceSession | None:
        row = self.store.reader.execute(
            "SELECT handle, expires_at FROM sessions WHERE token_hash = ? AND revoked_at IS NULL",
            (digest,),
        ).fetchone()
        account = service_account(self.compact, str(row[0])) if row else None
        if row is None or account is None or account.nation != self.nation:
            return None
        session = ServiceSession(account, digest, float(row[1]))
        self._service_sessions[digest] = session
        return session

    async def login(self, handle: str, password: str) -> tuple[str, Session]:
        official = self.compact.official(Handle(handle))
        if official is None:
            raise AuthError("unknown handle or wrong password", code="bad_credentials")
        if official.nation != self.nation:
            raise AuthError(
                f"{handle} is an official of {official.nation}; log in to {official.nation}'s "
                f"node (this is {self.nation}'s)",
                code="wrong_node",
            )
        await self._check_password(handle, password)
        token, digest, expires_at = await self._issue_token(handle)
        session = Session(official, digest, expires_at)
        self._sessions[session.token_hash] = session
        return token, session

    async def _check_password(self, handle: str, password: str) -> None:
        """AuthError unless ``password`` is the account's (argon2 verify, off the loop)."""
        row = self.store.reader.execute(
            "SELECT hash FROM accounts WHERE handle = ?", (handle,)
        ).fetchone()
        if row is None or not await asyncio.to_thread(_verify, str(row[0]), password):
            raise AuthError("unknown handle or wrong password", code="bad_credentials")

    async def _issue_token(self, handle: str) -> tuple[str, str, float]:
        """A new bearer token for ``handle``, stored (as its digest) durably: token, digest,
        expiry."""
        token = secrets.token_urlsafe(32)
        digest, now = token_digest(token), self.clock.now()
        expires_at = now + self.token_ttl_s

        def insert(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO sessions(token_hash, handle, issued_at, expires_at) "
                "VALUES (?, ?, ?, ?)",
                (digest, handle, now, expires_at),
            )

        await self.store.run(insert)
        return token, digest, expires_at

    def authenticate(self, token: str | None) -> Session:
        """The live session of ``token``; AuthError if missing, unknown, expired or revoked."""
        if not token:
            raise AuthError("no token: send 'Authorization: Bearer TOKEN'", code="no_token")
        digest = self._digests.get(token) or token_digest(token)
        session = self._sessions.get(digest)
        if session is None and (
            digest in self._service_sessions or self._load_service_session(digest)
        ):
            handle = self._service_sessions[digest].account.handle
            raise Forbidden(
                f"{handle} is a service account: it may only post reports and read tracks",
                code="service_account",
            )
        if session is None:
            row = self.store.reader.execute(
                "SELECT handle, expires_at FROM sessions WHERE token_hash = ? "
                "AND revoked_at IS NULL",
                (digest,),
            ).fetchone()
            official = self.compact.official(Handle(str(row[0]))) if row else None
            if row is None or official is None:
                raise AuthError("token is unknown or revoked", code="bad_token")
            session = Session(official, digest, float(row[1]))
            self._sessions[digest] = session
        if token not in self._digests:
            if len(self._digests) >= _DIGEST_CACHE:
                self._digests.clear()
            self._digests[token] = digest
        if session.expires_at <= self.clock.now():
            self._sessions.pop(digest, None)
            raise AuthError("token expired: log in again", code="token_expired")
        return session

    async def revoke(self, session: Session) -> None:
        now = self.clock.now()

        def revoke(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE sessions SET revoked_at = ? WHERE token_hash = ?",
                (now, session.token_hash),
            )

        await self.store.run(revoke)
        self._sessions.pop(session.token_hash, None)

    async def set_password(self, handle: str, password: str) -> None:
        if len(password) < MIN_PASSWORD_CHARS:
            raise Invalid(f"a password needs at least {MIN_PASSWORD_CHARS} characters")
        official = self.compact.official(Handle(handle))
        if official is None or official.nation != self.nation:
            raise Invalid(f"{handle} is not an official of {self.nation}")
        digest, now = _HASHER.hash(password), self.clock.now()

        def save(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT OR REPLACE INTO accounts(handle, hash, updated_at) VALUES (?, ?, ?)",
                (handle, digest, now),
            )
            conn.execute(
                "UPDATE sessions SET revoked_at = ? WHERE handle = ? AND revoked_at IS NULL",
                (now, handle),
            )

        await self.store.run(save)
        for key in [k for k, s in self._sessions.items() if s.official.handle == handle]:
            del self._sessions[key]


def _verify(digest: str, password: str) -> bool:
    try:
        return bool(_HASHER.verify(digest, password))
    except (VerificationError, InvalidHashError):
        return False
