"""The send route's responses on the wire, over a raw socket: whole responses on a kept-alive
connection (two requests pipelined), and on ``Connection: close`` the whole response before the
end of the stream (the fast path writes head and body in one write: ``api.app._Cork``)."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import msgspec
import pytest

from tests.support import Cluster

pytestmark = pytest.mark.anyio

MESSAGES = "/api/v1/channels/ops.usa-jpn-kor/messages"


def _request(token: str, body: str, *, close: bool = False) -> bytes:
    payload = msgspec.json.encode({"precedence": "routine", "body": body})
    head = (
        f"POST {MESSAGES} HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer {token}\r\n"
        f"content-type: application/json\r\ncontent-length: {len(payload)}\r\n"
    )
    if close:
        head += "connection: close\r\n"
    return (head + "\r\n").encode() + payload


async def _response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {k.lower(): v.strip() for k, v in (x.split(":", 1) for x in lines[1:] if x)}
    body = await reader.readexactly(int(headers["content-length"]))
    return status, headers, body


async def test_pipelined_sends_on_one_connection_get_whole_responses(cluster: Cluster) -> None:
    client = await cluster["USA"].login("usa.ops")
    url = urlsplit(cluster["USA"].url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        token = client.token  # type: ignore[attr-defined]
        writer.write(_request(token, "first") + _request(token, "second"))
        await writer.drain()
        bodies = []
        for _ in range(2):
            status, headers, body = await asyncio.wait_for(_response(reader), 10)
            assert status == 201, body
            assert headers["content-type"] == "application/json"
            bodies.append(msgspec.json.decode(body)["body"])
        assert bodies == ["first", "second"]
    finally:
        writer.close()


async def test_connection_close_gets_the_whole_response_then_the_end(cluster: Cluster) -> None:
    client = await cluster["USA"].login("usa.ops")
    url = urlsplit(cluster["USA"].url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        writer.write(_request(client.token, "closing", close=True))  # type: ignore[attr-defined]
        await writer.drain()
        status, headers, body = await asyncio.wait_for(_response(reader), 10)
        assert status == 201, body
        assert headers["content-type"] == "application/json"
        sent = msgspec.json.decode(body)
        assert sent["body"] == "closing"
        assert await asyncio.wait_for(reader.read(), 10) == b""  # then the server closes
    finally:
        writer.close()
    history = (await client.get(MESSAGES)).json()
    assert sent["id"] in [m["id"] for m in history]
