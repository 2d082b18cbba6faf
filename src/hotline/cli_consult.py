"""``hotline consult ...`` and ``hotline cadence``: the commitment to consult from a terminal.

Thin clients of the officials' API (``/api/v1/consultations``, ``/api/v1/cadence``); every
command takes ``--node --as --password --json`` like ``hotline send`` and fails with one line
and exit status 1. Registered on the ``hotline`` group at the bottom of ``hotline.cli``.
"""

from __future__ import annotations

from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from hotline.cli_support import emit, fail, handle_errors, json_option, password_option, run_async

# The options and error handling of ``hotline.cli`` (same flags, same one-line failures),
# repeated here so that this module does not import ``hotline.cli``, which registers it.
node_option = click.option(
    "--node", required=True, help="The node's URL, e.g. http://127.0.0.1:8801"
)
as_option = click.option("--as", "handle", required=True, help="Your handle, e.g. usa.nsa")


_STATE_STYLE = {
    "invoker": "bold cyan",
    "convened": "bold green",
    "acknowledged": "green",
    "notified": "bold yellow",
}


def _call(node: str, handle: str, password: str | None, method: str, path: str, **kw: Any) -> Any:
    from hotline.client import Client, password_for

    async def go() -> Any:
        async with Client(node) as c:
            await c.login(handle, password_for(handle, password))
            return await c.call(method, path, **kw)

    return run_async(go())


def _nations(value: str | None) -> list[str]:
    return [v.strip().upper() for v in (value or "").split(",") if v.strip()]


def _base(cid: str) -> str:
    return f"/api/v1/consultations/{cid}"


# ---- human output ---------------------------------------------------------------------------


def _obligations_line(obligations: dict[str, Any]) -> str:
    parts = []
    for nation, o in obligations.items():
        sources = ", ".join(f"{s['treaty']} {s['article']}".strip() for s in o["sources"])
        parts.append(f"{nation} {o['kind']}" + (f" ({sources})" if sources else ""))
    return "; ".join(parts)


def _parties_line(c: dict[str, Any]) -> str:
    return ", ".join(f"{n} {p['state']}" for n, p in c["parties"].items())


def _echo_summary(c: dict[str, Any]) -> None:
    click.echo(
        f"{c['id']}  {c['phase']}  {c['layer']}/{c['severity']}  {c['subject']}  "
        f"[{_parties_line(c)}]"
    )


def _echo_statement(c: dict[str, Any]) -> None:
    s = c.get("statement")
    if s is None:
        _echo_summary(c)
        return
    state = "ADOPTED" if s["adopted"] else f"awaiting {', '.join(s['awaiting'])}"
    click.echo(
        f"{c['id']} statement {s['id']} version {s['version']} {s['text_hash']}  "
        f"approved by {', '.join(s['approved_by']) or 'nobody'}; {state}"
    )


def _secs(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}s" if value < 120 else f"{value / 60:.1f}m"


def show_consultation(c: dict[str, Any], console: Console | None = None) -> None:
    """The consultation with its parties, statements, metrics and timeline (rich tables)."""
    out = console or Console()
    out.print(
        Text(f"{c['id']}  {c['subject']}", style="bold"),
        Text(
            f"layer {c['layer']}, severity {c['severity']}, threatened "
            f"{', '.join(c['threatened'])}, phase {c['phase']}, channel {c['channel']}; invoked "
            f"by {c['invoked_by']} at {c['invoked_at']}"
        ),
        sep="\n",
    )
    parties = Table(title="parties", expand=True)
    for col in ("nation", "obligation", "state", "layer", "acknowledged", "convened", "owes"):
        parties.add_column(col)
    for nation, p in c["parties"].items():
        o = c["obligations"].get(nation, {"kind": "-", "sources": []})
        sources = ", ".join(f"{s['treaty']} {s['article']}".strip() for s in o["sources"])
        owes = p["owes"]
        parties.add_row(
            nation,
            o["kind"] + (f" ({sources})" if sources else ""),
            Text(p["state"], style=_STATE_STYLE.get(p["state"], "")),
            p["layer"] + (f" (escalated x{p['escalations']})" if p["escalations"] else ""),
            f"{p['acknowledged_at'] or '-'} {p['acknowledged_by'] or ''}".strip(),
            f"{p['convened_at'] or '-'} {p['convened_by'] or ''}".strip(),
            "-" if owes is None else f"{owes['step']} by {owes['by']}",
        )
    out.print(parties)
    metrics = Table(title="response times (from invocation)")
    for col in ("nation", "ack", "convene", "first position", "escalations"):
        metrics.add_column(col)
    for nation, m in c["metrics"].items():
        metrics.add_row(
            nation,
            _secs(m["ack_s"]),
            _secs(m["convene_s"]),
            _secs(m["position_s"]),
            str(m["escalations"]),
        )
    out.print(metrics)
    if c["statements"]:
        statements = Table(title="joint statements", expand=True)
        for col in ("id", "version", "state", "approved by", "text"):
            statements.add_column(col, overflow="fold")
        for s in c["statements"]:
            state = (
                Text("ADOPTED", style="bold green")
                if s["adopted"]
                else Text(f"awaiting {', '.join(s['awaiting'])}", style="yellow")
            )
            statements.add_row(
                s["id"], str(s["version"]), state, ", ".join(s["approved_by"]), s["text"]
            )
        out.print(statements)
    timeline = Table(title="timeline", expand=True)
    for col in ("at", "nation", "by", "what"):
        timeline.add_column(col, overflow="fold")
    for t in c["timeline"]:
        timeline.add_row(t["at"], t["nation"] or "", t["by"] or "", t["what"])
    out.print(timeline)


def show_cadence(status: dict[str, Any], console: Console | None = None) -> None:
    out = console or Console()
    table = Table(title=f"cadence of {status['compact']} (since {status['since']})", expand=True)
    for col in ("meeting", "kind", "layer", "every", "last held", "next due", "status"):
        table.add_column(col, overflow="fold")
    for i in status["items"]:
        state = (
            Text(f"OVERDUE {i['days_overdue']:.0f}d", style="bold red")
            if i["overdue"]
            else Text("ok", style="green")
        )
        table.add_row(
            f"{i['title']} ({i['meeting_id']})",
            i["kind"],
            i["layer"] or "-",
            f"{i['every_days']}d",
            i["last_held"] or "never",
            i["next_due"],
            state,
        )
    out.print(table)
    for w in status["warnings"]:
        out.print(Text(f"warning: {w}", style="red"))


# ---- consult --------------------------------------------------------------------------------


@click.group()
def consult() -> None:
    """The commitment to consult: invoke, acknowledge, convene, positions, joint statements."""


@consult.command("invoke")
@node_option
@as_option
@password_option
@click.option("--subject", required=True, help="What the crisis is.")
@click.option("--layer", required=True, help="leaders | nsa | foreign | defense")
@click.option("--severity", required=True, help="A severity of the compact, e.g. critical.")
@click.option("--threatened", required=True, help="Comma-separated nations, e.g. JPN or JPN,KOR")
@click.option("--information", default="", help="Information shared at invocation.")
@click.option("--parties", default=None, help="Comma-separated subset (default: every party).")
@json_option
@handle_errors
def consult_invoke(
    node: str,
    handle: str,
    password: str | None,
    subject: str,
    layer: str,
    severity: str,
    threatened: str,
    information: str,
    parties: str | None,
    as_json: bool,
) -> None:
    """Invoke the commitment to consult; every party's officials at LAYER get a FLASH notice."""
    payload: dict[str, Any] = {
        "subject": subject,
        "layer": layer,
        "severity": severity,
        "threatened": _nations(threatened),
        "information": information,
    }
    if parties:
        payload["parties"] = _nations(parties)
    c = _call(node, handle, password, "POST", "/api/v1/consultations", json=payload)

    def human(c: dict[str, Any]) -> None:
        notice = c["notice"]["message_id"] if c["notice"] else "-"
        click.echo(f"{c['id']} invoked on {c['channel']} ({c['severity']}); FLASH notice {notice}")
        click.echo(f"  obligations: {_obligations_line(c['obligations'])}")
        first = next(p for p in c["parties"].values() if p["owes"] is not None)
        click.echo(
            f"  acknowledge by {first['ack_deadline']}, convene by {first['convene_deadline']}"
        )

    emit(c, as_json, human)


def _simple(name: str, path: str, help_text: str) -> None:
    @consult.command(name, help=help_text)
    @node_option
    @as_option
    @password_option
    @click.argument("consultation_id")
    @json_option
    @handle_errors
    def command(
        node: str, handle: str, password: str | None, consultation_id: str, as_json: bool
    ) -> None:
        c = _call(node, handle, password, "POST", f"{_base(consultation_id)}/{path}")
        emit(c, as_json, _echo_summary)


_simple("ack", "ack", "Acknowledge CONSULTATION_ID for your nation.")
_simple("convene", "convene", "Your nation joins CONSULTATION_ID (implies acknowledgment).")


@consult.command("position")
@node_option
@as_option
@password_option
@click.argument("consultation_id")
@click.argument("text")
@json_option
@handle_errors
def consult_position(
    node: str, handle: str, password: str | None, consultation_id: str, text: str, as_json: bool
) -> None:
    """Give your nation's position TEXT."""
    path = f"{_base(consultation_id)}/position"
    c = _call(node, handle, password, "POST", path, json={"text": text})
    emit(c, as_json, _echo_summary)


@consult.command("phase")
@node_option
@as_option
@password_option
@click.argument("consultation_id")
@click.argument("phase")
@json_option
@handle_errors
def consult_phase(
    node: str, handle: str, password: str | None, consultation_id: str, phase: str, as_json: bool
) -> None:
    """Move forward to PHASE: align_messaging, coordinate_response or closed."""
    path = f"{_base(consultation_id)}/phase"
    c = _call(node, handle, password, "POST", path, json={"phase": phase})
    emit(c, as_json, _echo_summary)


@consult.command("draft")
@node_option
@as_option
@password_option
@click.option("--statement-id", default=None, help="Amend this statement (new version).")
@click.option("--amends", type=int, default=None, help="The version you amend (409 if stale).")
@click.argument("consultation_id")
@click.argument("text")
@json_option
@handle_errors
def consult_draft(
    node: str,
    handle: str,
    password: str | None,
    statement_id: str | None,
    amends: int | None,
    consultation_id: str,
    text: str,
    as_json: bool,
) -> None:
    """Draft a joint statement TEXT, or amend one (earlier approvals become void)."""
    payload: dict[str, Any] = {"text": text}
    if statement_id:
        payload["statement_id"] = statement_id
    if amends is not None:
        payload["amends"] = amends
    path = f"{_base(consultation_id)}/statements"
    c = _call(node, handle, password, "POST", path, json=payload)
    emit(c, as_json, _echo_statement)


@consult.command("approve")
@node_option
@as_option
@password_option
@click.option("--version", "version", type=int, default=None, help="Default: the current one.")
@click.option("--text-hash", default=None, help="sha256:<hex>; default: the current version's.")
@click.argument("consultation_id")
@click.argument("statement_id")
@json_option
@handle_errors
def consult_approve(
    node: str,
    handle: str,
    password: str | None,
    version: int | None,
    text_hash: str | None,
    consultation_id: str,
    statement_id: str,
    as_json: bool,
) -> None:
    """Approve a statement for your nation (signed by your node). Without --version and
    --text-hash, approves the version your node holds now, and says which."""
    from hotline.client import Client, password_for

    async def go() -> Any:
        async with Client(node) as c:
            await c.login(handle, password_for(handle, password))
            v, h = version, text_hash
            if v is None or h is None:
                current = await c.call("GET", _base(consultation_id))
                s = next((s for s in current["statements"] if s["id"] == statement_id), None)
                if s is None:
                    fail(
                        f"no statement '{statement_id}' in consultation {consultation_id}",
                        as_json=as_json,
                    )
                v = s["version"] if v is None else v
                h = s["text_hash"] if h is None else h
            path = f"{_base(consultation_id)}/statements/{statement_id}/approve"
            return await c.call("POST", path, json={"version": v, "text_hash": h})

    emit(run_async(go()), as_json, _echo_statement)


@consult.command("show")
@node_option
@as_option
@password_option
@click.argument("consultation_id")
@json_option
@handle_errors
def consult_show(
    node: str, handle: str, password: str | None, consultation_id: str, as_json: bool
) -> None:
    """The consultation: parties, obligations, statements, response times and timeline."""
    c = _call(node, handle, password, "GET", _base(consultation_id))
    emit(c, as_json, show_consultation)


@consult.command("list")
@node_option
@as_option
@password_option
@click.option("--phase", default=None, help="A phase, or 'open' (any but closed).")
@json_option
@handle_errors
def consult_list(
    node: str, handle: str, password: str | None, phase: str | None, as_json: bool
) -> None:
    """Consultations your node holds, most recent first."""
    params = {"phase": phase} if phase else {}
    rows = _call(node, handle, password, "GET", "/api/v1/consultations", params=params)

    def human(rows: list[dict[str, Any]]) -> None:
        if not rows:
            click.echo("no consultations")
        for c in rows:
            _echo_summary(c)

    emit(rows, as_json, human)


# ---- cadence --------------------------------------------------------------------------------


@click.group(invoke_without_command=True)
@click.option("--node", default=None, help="The node's URL, e.g. http://127.0.0.1:8801")
@click.option("--as", "handle", default=None, help="Your handle, e.g. usa.nsa")
@password_option
@json_option
@click.pass_context
@handle_errors
def cadence(
    ctx: click.Context, node: str | None, handle: str | None, password: str | None, as_json: bool
) -> None:
    """The compact's meetings and exercises, held and overdue (``cadence held`` records one)."""
    if ctx.invoked_subcommand is not None:
        return
    if not node or not handle:
        fail("cadence: --node and --as are required", as_json=as_json)
    status = _call(node, handle, password, "GET", "/api/v1/cadence")
    emit(status, as_json, show_cadence)


@cadence.command("held")
@node_option
@as_option
@password_option
@click.option("--at", default=None, help="When (ISO 8601, e.g. 2024-07-28T09:00:00Z); default now.")
@click.argument("meeting_id")
@json_option
@handle_errors
def cadence_held(
    node: str, handle: str, password: str | None, at: str | None, meeting_id: str, as_json: bool
) -> None:
    """Record MEETING_ID (e.g. leaders-summit) as held; federated to every party."""
    payload: dict[str, Any] = {"meeting_id": meeting_id}
    if at:
        payload["at"] = at
    item = _call(node, handle, password, "POST", "/api/v1/cadence/held", json=payload)
    emit(
        item,
        as_json,
        lambda i: click.echo(
            f"{i['title']} ({i['meeting_id']}) held {i['recorded']['at']}; next due {i['next_due']}"
        ),
    )
