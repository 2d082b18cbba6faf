"""The officials' stream writes a batch of frames in ONE write (``api.app._pump``) when the
server's WebSocket protocol is one known to write each frame to ``self.transport``, and
frame by frame otherwise; the real transport is put back whatever happens."""

from __future__ import annotations

from typing import Any

import pytest

from hotline.api.app import _RAW_SEND, _pump

pytestmark = pytest.mark.anyio


class _Transport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(data)


class WebSocketsSansIOProtocol:
    """Stands in for uvicorn's protocol of that name: one ``transport.write`` per frame."""

    def __init__(self, fail_at: str | None = None) -> None:
        self.transport: Any = _Transport()
        self.fail_at = fail_at

    async def send(self, message: dict[str, Any]) -> None:
        if message["text"] == self.fail_at:
            raise OSError("the client has gone")
        self.transport.write(b"[" + message["text"].encode() + b"]")


class OtherProtocol(WebSocketsSansIOProtocol):
    pass


class _Done(Exception):
    pass


class _Sub:
    def __init__(self, *batches: list[bytes]) -> None:
        self.batches = list(batches)

    async def next_batch(self) -> list[bytes]:
        if not self.batches:
            raise _Done
        return self.batches.pop(0)


class _Socket:
    connection_state = "connect"

    def __init__(self, proto: WebSocketsSansIOProtocol) -> None:
        self.scope = {_RAW_SEND: proto.send}


async def _run(proto: WebSocketsSansIOProtocol, *batches: list[bytes]) -> None:
    with pytest.raises(_Done):
        await _pump(_Socket(proto), _Sub(*batches))  # type: ignore[arg-type]


async def test_a_batch_leaves_in_one_write_in_order() -> None:
    proto = WebSocketsSansIOProtocol()
    real = proto.transport
    await _run(proto, [b"a", b"b", b"c"], [b"d"])
    assert real.writes == [b"[a][b][c]", b"[d]"]
    assert proto.transport is real


async def test_an_unknown_protocol_is_written_to_frame_by_frame() -> None:
    proto = OtherProtocol()
    await _run(proto, [b"a", b"b"])
    assert proto.transport.writes == [b"[a]", b"[b]"]


async def test_a_failed_send_leaves_the_real_transport_and_what_was_written() -> None:
    proto = WebSocketsSansIOProtocol(fail_at="c")
    real = proto.transport
    with pytest.raises(OSError, match="gone"):
        await _pump(_Socket(proto), _Sub([b"a", b"b", b"c", b"d"]))  # type: ignore[arg-type]
    assert proto.transport is real
    assert real.writes == [b"[a][b]"]


def test_the_node_serves_with_the_protocol_known_to_cork() -> None:
    """If the server's protocol is renamed, this fails rather than the batching going quiet."""
    from uvicorn.protocols.websockets.websockets_sansio_impl import (
        WebSocketsSansIOProtocol as Served,
    )

    from hotline.api.app import _CORKABLE_WS

    assert Served.__name__ in _CORKABLE_WS
    assert "transport" in Served.__init__.__code__.co_names
