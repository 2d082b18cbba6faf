"""The ``hotline`` command line. Every command takes ``--json``; failures print one line and
exit non-zero."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from hotline.cli_support import (
    as_option,
    emit,
    handle_errors,
    json_option,
    node_option,
    password_option,
    run_async,
)
from hotline.errors import HotlineError

EXIT_FAILURE = 1


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="hotline")
def main() -> None:
    """hotline: sovereign, federated crisis hotline for a coalition's officials."""


# ---- node -----------------------------------------------------------------------------------


@main.group()
def node() -> None:
    """Initialise and run this nation's node."""


@node.command("init")
@click.option("--nation", required=True, help="ISO 3166 alpha-3 code, e.g. USA.")
@click.option("--compact", default="camp-david", show_default=True, help="Name or TOML path.")
@click.option("--dir", "node_dir", required=True, type=click.Path(path_type=Path))
@click.option("--demo", is_flag=True, help="Demo mode: each official's password is its handle.")
@click.option("--base-port", type=int, default=8800, show_default=True)
@json_option
@handle_errors
def node_init(
    nation: str, compact: str, node_dir: Path, demo: bool, base_port: int, as_json: bool
) -> None:
    """Make the node's signing key, PKI, settings and accounts in DIR."""
    from hotline.node import init_node

    made = init_node(node_dir, nation, compact, demo=demo, base_port=base_port)

    def human(m: dict[str, Any]) -> None:
        click.echo(f"{m['nation']} node initialised in {m['dir']} (compact {m['compact']})")
        click.echo(f"  signing key (pin in the compact): {m['signing_key']}")
        click.echo(f"  officials' API will listen on {m['api']}")
        if "passwords_file" in m:
            click.echo(f"  initial passwords: {m['passwords_file']} (mode 0600)")
        click.echo(f"  start it: hotline node start --dir {m['dir']}")

    emit(made, as_json, human)


@node.command("start")
@click.option("--dir", "node_dir", required=True, type=click.Path(path_type=Path))
@handle_errors
def node_start(node_dir: Path) -> None:
    """Serve the node until interrupted."""
    from hotline.node import serve

    try:
        run_async(serve(node_dir, os.environ, tune_gc=True))
    except* HotlineError as group:
        raise group.exceptions[0] from None


# ---- officials' commands --------------------------------------------------------------------


@main.command()
@node_option
@as_option
@password_option
@click.option("--channel", required=True, help="e.g. ops.usa-jpn-kor")
@click.option(
    "--precedence",
    default="routine",
    show_default=True,
    help="flash | immediate | priority | routine",
)
@click.option("--classification", default=None, help="unclassified .. top_secret")
@click.option("--rel-to", default=None, help="Comma-separated nations, e.g. USA,JPN")
@click.argument("text")
@json_option
@handle_errors
def send(
    node: str,
    handle: str,
    password: str | None,
    channel: str,
    precedence: str,
    classification: str | None,
    rel_to: str | None,
    text: str,
    as_json: bool,
) -> None:
    """Send TEXT on a channel; prints the message id once it is durable."""
    from hotline.client import Client, password_for

    async def go() -> dict[str, Any]:
        async with Client(node) as c:
            await c.login(handle, password_for(handle, password))
            return await c.send(
                channel,
                precedence,
                text,
                classification=classification,
                rel_to=[r.strip() for r in rel_to.split(",")] if rel_to else None,
            )

    msg = run_async(go())
    emit(
        msg,
        as_json,
        lambda m: click.echo(
            f"{m['id']}  {m['precedence'].upper()}  {m['marking']}  {m['channel']}  "
            f"sent {m['sent_at']}"
        ),
    )


@main.command()
@node_option
@as_option
@password_option
@click.argument("message_id")
@json_option
@handle_errors
def ack(node: str, handle: str, password: str | None, message_id: str, as_json: bool) -> None:
    """Acknowledge MESSAGE_ID for your nation."""
    from hotline.client import Client, password_for

    async def go() -> dict[str, Any]:
        async with Client(node) as c:
            info = await c.login(handle, password_for(handle, password))
            result = await c.ack(message_id)
            result["_nation"] = info["nation"]
            return result

    detail = run_async(go())
    nation = detail.pop("_nation")
    r = detail["receipts"][nation]
    emit(
        detail,
        as_json,
        lambda d: click.echo(
            f"{d['id']} acknowledged for {nation} by {r['acked_by']} at {r['acked_at']}"
        ),
    )


@main.command()
@node_option
@as_option
@password_option
@click.option("--count", type=int, default=0, help="Exit after this many events (0: forever).")
@json_option
@handle_errors
def watch(node: str, handle: str, password: str | None, count: int, as_json: bool) -> None:
    """Live view of your channels: precedence coloured, FLASH loud."""
    from hotline.watch import watch as run_watch

    run_async(run_watch(node, handle, password, count=count, as_json=as_json))


from hotline.demo import demo as _demo  # noqa: E402 - commands register after the group

main.add_command(_demo)

from hotline.bench import bench as _bench  # noqa: E402

main.add_command(_bench)

from hotline.cli_consult import cadence as _cadence  # noqa: E402
from hotline.cli_consult import consult as _consult  # noqa: E402

main.add_command(_consult)
main.add_command(_cadence)

from hotline.warning_cli import tracks as _tracks  # noqa: E402

main.add_command(_tracks)

from hotline.cli_federation import register as _register_federation  # noqa: E402

_register_federation(main)
