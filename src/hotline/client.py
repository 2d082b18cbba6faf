"""A small client of the officials' API, used by the CLI, the demo smoke test and benchmarks."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import msgspec
import websockets
from websockets.asyncio.client import ClientConnection

from hotline.errors import HotlineError


class ApiError(HotlineError):
    """The node refused: ``status``, ``code`` and its message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}", code=code)
        self.status = status


def password_for(handle: str, given: str | None) -> str:
    """``--password``, else ``HOTLINE_PASSWORD``, else the handle (the demo convention)."""
    return given or os.environ.get("HOTLINE_PASSWORD") or handle


def _raise_for(resp: httpx.Response) -> None:
    if resp.status_code < 400:
        return
    try:
        err = resp.json()["error"]
        raise ApiError(resp.status_code, str(err["code"]), str(err["message"]))
    except (ValueError, KeyError, TypeError):
        raise ApiError(resp.status_code, "http_error", resp.text[:200]) from None


class Client:
    def __init__(self, node: str, timeout_s: float = 10.0) -> None:
        self.node = node.rstrip("/")
        self.http = httpx.AsyncClient(base_url=self.node, timeout=timeout_s)
        self.token: str | None = None
        self.login_info: dict[str, Any] = {}

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()

    async def login(self, handle: str, password: str) -> dict[str, Any]:
        try:
            resp = await self.http.post(
                "/api/v1/login", json={"handle": handle, "password": password}
            )
        except httpx.HTTPError as exc:
            raise ApiError(0, "unreachable", f"cannot reach {self.node}: {exc}") from None
        _raise_for(resp)
        self.login_info = resp.json()
        self.token = str(self.login_info["token"])
        self.http.headers["authorization"] = f"Bearer {self.token}"
        return self.login_info

    async def call(self, method: str, path: str, **kw: Any) -> Any:
        try:
            resp = await self.http.request(method, path, **kw)
        except httpx.HTTPError as exc:
            raise ApiError(0, "unreachable", f"cannot reach {self.node}: {exc}") from None
        _raise_for(resp)
        return resp.json() if resp.content else None

    async def send(self, channel: str, precedence: str, body: str, **extra: Any) -> dict[str, Any]:
        payload = {
            "precedence": precedence,
            "body": body,
            **{k: v for k, v in extra.items() if v is not None},
        }
        result: dict[str, Any] = await self.call(
            "POST", f"/api/v1/channels/{channel}/messages", json=payload
        )
        return result

    async def ack(self, message_id: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.call("POST", f"/api/v1/messages/{message_id}/ack")
        return result

    async def message(self, message_id: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.call("GET", f"/api/v1/messages/{message_id}")
        return result

    @asynccontextmanager
    async def stream(self) -> AsyncIterator[ClientConnection]:
        url = self.node.replace("http", "ws", 1) + f"/api/v1/stream?token={self.token}"
        async with websockets.connect(url, max_size=2**22) as ws:
            hello = msgspec.json.decode(await ws.recv())
            if hello.get("type") == "error":
                err = hello["error"]
                raise ApiError(401, err["code"], err["message"])
            yield ws
