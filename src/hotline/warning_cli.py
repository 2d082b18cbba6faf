"""``hotline tracks``: the fused tracks of a node, replays of recorded reports, TAK certificates.

hotline tracks --node URL --as HANDLE [--picture coalition|local] [--ended] [--json]
hotline tracks replay FILE --node URL --as <nation>.sensors [--speed N] [--json]
hotline tracks tak-cert --dir NODE_DIR --name NAME --out DIR
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from hotline.cli_support import emit, handle_errors, json_option, password_option, run_async
from hotline.errors import HotlineError

# The few helpers of ``hotline.cli``, repeated so that this module does not import the module
# that registers it.


@click.group(invoke_without_command=True)
@click.option("--node", default=None, help="The node's URL, e.g. http://127.0.0.1:8802")
@click.option("--as", "handle", default=None, help="An official, or <nation>.sensors")
@password_option
@click.option(
    "--picture",
    type=click.Choice(["coalition", "local"]),
    default=None,
    help="coalition: the track authority's (default); local: this node's own fusion.",
)
@click.option("--ended", is_flag=True, help="Include merged and dropped tracks.")
@json_option
@click.pass_context
@handle_errors
def tracks(
    ctx: click.Context,
    node: str | None,
    handle: str | None,
    password: str | None,
    picture: str | None,
    ended: bool,
    as_json: bool,
) -> None:
    """Fused missile tracks and their predicted impacts (API.md GET /api/v1/tracks)."""
    if ctx.invoked_subcommand is not None:
        return
    if not node or not handle:
        raise click.UsageError("--node and --as are required to list tracks")
    from hotline.client import Client, password_for

    async def go() -> list[dict[str, Any]]:
        async with Client(node) as c:
            await c.login(handle, password_for(handle, password))
            params: dict[str, Any] = {"ended": "true" if ended else "false"}
            if picture:
                params["picture"] = picture
            result: list[dict[str, Any]] = await c.call("GET", "/api/v1/tracks", params=params)
            return result

    emit(run_async(go()), as_json, _table)


def _table(rows: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not rows:
        console.print("no tracks")
        return
    table = Table(title=f"{len(rows)} track(s)")
    for col in ("track", "phase", "status", "position", "alt km", "speed m/s", "sources"):
        table.add_column(col)
    for col in ("impact", "95 % ellipse km", "territory", "in s"):
        table.add_column(col, style="bold red")
    for t in rows:
        imp = t.get("impact")
        impact = ellipse = territory = eta = "—"
        if imp:
            impact = f"{imp['lat']:.2f}, {imp['lon']:.2f}"
            ellipse = f"{2 * imp['semi_major_m'] / 1000:.1f} × {2 * imp['semi_minor_m'] / 1000:.1f}"
            territory = imp.get("territory") or "none"
            eta = f"{imp.get('seconds_to_impact', 0):.0f}"
        table.add_row(
            t["id"],
            t["phase"],
            t["status"],
            f"{t['lat']:.2f}, {t['lon']:.2f}",
            f"{t['hae'] / 1000:.0f}",
            f"{t['velocity']['speed']:.0f}",
            ", ".join(t["sources"]),
            impact,
            ellipse,
            territory,
            eta,
        )
    console.print(table)


@tracks.command("replay")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--node", required=True, help="The node's URL, e.g. http://127.0.0.1:8802")
@click.option("--as", "handle", required=True, help="The nation's sensors account: jpn.sensors")
@password_option
@click.option("--speed", type=float, default=1.0, show_default=True, help="1 = real time.")
@click.option("--batch-s", type=float, default=0.5, show_default=True, help="Send every N s.")
@click.option(
    "--start-at",
    default=None,
    help="When the recording starts (epoch s or ISO 8601): replays of one file to several "
    "nodes started with the same value stamp one consistent scenario. Default: now.",
)
@json_option
@handle_errors
def replay_cmd(
    file: Path,
    node: str,
    handle: str,
    password: str | None,
    speed: float,
    batch_s: float,
    start_at: str | None,
    as_json: bool,
) -> None:
    """Replay the recorded reports of FILE (JSON Lines) to a node as its sensors."""
    from hotline.client import password_for
    from hotline.domain.reports import parse_time
    from hotline.replay import replay

    start: float | None = None
    if start_at is not None:
        try:
            start = parse_time(float(start_at) if _number(start_at) else start_at, "--start-at")
        except HotlineError as exc:
            raise click.BadParameter(str(exc), param_hint="--start-at") from None

    def progress(sent: int, total: int) -> None:
        if not as_json:
            click.echo(f"\r{sent}/{total} reports sent", nl=False, err=True)

    summary = run_async(
        replay(
            node,
            handle,
            password_for(handle, password),
            file,
            speed=speed,
            batch_s=batch_s,
            start_at=start,
            on_batch=progress,
        )
    )

    def human(s: dict[str, Any]) -> None:
        click.echo("", err=True)
        click.echo(
            f"replayed {s['sent']} reports of {s['nation']} to {s['node']} in {s['batches']} "
            f"batches ({s['wall_s']} s at --speed {s['speed']:g}; {s['skipped']} of other "
            f"nations skipped)"
        )

    emit(summary, as_json, human)


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@tracks.command("tak-cert")
@click.option("--dir", "node_dir", required=True, type=click.Path(path_type=Path))
@click.option("--name", required=True, help="The TAK client's name, e.g. sado-gateway")
@click.option("--out", required=True, type=click.Path(path_type=Path))
@json_option
@handle_errors
def tak_cert(node_dir: Path, name: str, out: Path, as_json: bool) -> None:
    """Issue a TAK client certificate from the node's national CA (for the CoT TLS port)."""
    from hotline.cot.certs import issue_client_cert

    paths = {k: str(v) for k, v in issue_client_cert(node_dir / "pki", name, out).items()}
    emit(
        paths,
        as_json,
        lambda p: click.echo(f"certificate {p['cert']}, key {p['key']}, CA {p['ca']}"),
    )
