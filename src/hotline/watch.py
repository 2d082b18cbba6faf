"""``hotline watch``: the live stream in the terminal, precedence coloured, FLASH loud."""

from __future__ import annotations

import sys
from collections import deque
from typing import Any

import msgspec
from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from websockets.exceptions import ConnectionClosed

from hotline.client import ApiError, Client, password_for

STYLE = {
    "flash": "bold white on red",
    "immediate": "bold black on dark_orange",
    "priority": "bold yellow",
    "routine": "dim",
}


def describe(event: dict[str, Any]) -> tuple[str, str, str]:
    """(precedence, headline, detail) of one stream event."""
    kind = event.get("type")
    if kind == "message":
        return (
            str(event["precedence"]),
            f"{event['id']} {event['channel']} from {event['sender']}",
            f"({event['marking']}) {event['body']}",
        )
    if kind == "receipt":
        return (
            "routine",
            f"{event['message_id']} {event['kind']} by {event['nation']}",
            f"{event.get('by') or ''} at {event['at']}",
        )
    if kind == "escalation":
        return (
            str(event["precedence"]),
            f"{event['message_id']} ESCALATED for {event['nation']} to level {event['level']}",
            f"calling {', '.join(event['notified'])}; next step {event['next_at']}",
        )
    return ("routine", str(kind), msgspec.json.encode(event).decode())


def render(events: deque[dict[str, Any]], unacked_flash: dict[str, str], who: str) -> Group:
    table = Table(expand=True, show_lines=False)
    table.add_column("precedence", width=10)
    table.add_column("event")
    table.add_column("detail", overflow="fold")
    for ev in reversed(events):
        prec, head, detail = describe(ev)
        table.add_row(Text(prec.upper(), style=STYLE.get(prec, "")), head, detail)
    parts: list[Any] = []
    if unacked_flash:
        lines = "\n".join(f"FLASH {mid}: {text}" for mid, text in unacked_flash.items())
        parts.append(Panel(Text(lines, style="bold white on red"), title="FLASH — acknowledge"))
    parts.append(Panel(table, title=f"hotline watch — {who}"))
    return Group(*parts)


async def watch(
    node: str, handle: str, password: str | None, *, count: int = 0, as_json: bool = False
) -> None:
    console = Console()
    seen = 0
    async with Client(node) as c:
        info = await c.login(handle, password_for(handle, password))
        nation = info["nation"]
        async with c.stream() as ws:
            events: deque[dict[str, Any]] = deque(maxlen=max(10, console.height - 8))
            flash: dict[str, str] = {}
            live = (
                None
                if as_json
                else Live(render(events, flash, handle), console=console, auto_refresh=False)
            )
            if live is not None:
                live.start()
            try:
                async for raw in ws:
                    event = msgspec.json.decode(raw)
                    if event.get("type") == "error":
                        err = event["error"]
                        raise ApiError(400, err["code"], err["message"])
                    if as_json:
                        sys.stdout.write(msgspec.json.encode(event).decode() + "\n")
                        sys.stdout.flush()
                    else:
                        _track_flash(event, flash, nation)
                        events.append(event)
                        if event.get("type") == "message" and event["precedence"] == "flash":
                            console.bell()
                        assert live is not None
                        live.update(render(events, flash, handle), refresh=True)
                    seen += 1
                    if count and seen >= count:
                        return
            except ConnectionClosed as exc:
                raise ApiError(0, "stream_closed", f"the node closed the stream ({exc})") from None
            finally:
                if live is not None:
                    live.stop()


def _track_flash(event: dict[str, Any], flash: dict[str, str], nation: str) -> None:
    """A FLASH for our nation stays on the banner until our nation acknowledges it."""
    if event.get("type") == "message" and event["precedence"] == "flash":
        if event["nation"] != nation:
            flash[event["id"]] = event["body"][:120]
    elif (
        event.get("type") == "receipt"
        and event["kind"] == "acknowledged"
        and event["nation"] == nation
    ):
        flash.pop(event["message_id"], None)
