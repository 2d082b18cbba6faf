"""``hotline peers`` and ``hotline pki ...``: federation status and trust from a terminal.

``hotline peers`` is a client of ``GET /api/v1/peers``. ``hotline pki init|show|trust`` work on
a node folder (``--dir``, as made by ``hotline node init``): the national CA and node
certificate in ``DIR/pki``, what a peer must pin for this node, and pinning a peer
(``DIR/peers.toml``, ``DIR/peers/NATION-ca.crt``). Every command takes ``--json`` and fails with
one line and exit status 1. Registered on the ``hotline`` group at the bottom of ``hotline.cli``
(this module does not import ``hotline.cli``, which imports it).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

import click
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from hotline.cli_support import emit as _emit
from hotline.cli_support import handle_errors as _handle_errors
from hotline.cli_support import json_option
from hotline.errors import ConfigError

dir_option = click.option(
    "--dir",
    "node_dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="The node's folder (as made by 'hotline node init').",
)


# ---- hotline peers --------------------------------------------------------------------------


@click.command()
@click.option("--node", required=True, help="The node's URL, e.g. http://127.0.0.1:8801")
@click.option("--as", "handle", required=True, help="Your handle, e.g. usa.ops")
@click.option(
    "--password", default=None, help="Password (else $HOTLINE_PASSWORD, else the demo password)."
)
@json_option
@_handle_errors
def peers(node: str, handle: str, password: str | None, as_json: bool) -> None:
    """Federation status of the node: per peer link, backlog, acknowledged seq, link-test RTT."""
    from hotline.client import Client, password_for

    async def go() -> list[dict[str, Any]]:
        async with Client(node) as c:
            await c.login(handle, password_for(handle, password))
            result: list[dict[str, Any]] = await c.call("GET", "/api/v1/peers")
            return result

    rows = asyncio.run(go())
    _emit(rows, as_json, _peers_table)


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "—"
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%m-%d %H:%MZ")


def _peers_table(rows: list[dict[str, Any]]) -> None:
    """One row per peer; each peer's last error printed below the table (errors are long)."""
    console = Console(soft_wrap=False)
    table = Table(
        title="federation peers",
        expand=False,
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    table.add_column("peer", no_wrap=True, min_width=4)
    table.add_column("out/in", no_wrap=True)
    table.add_column("since", no_wrap=True)
    for name in ("backlog", "ack/last", "RTT ms", "missed", "refused"):
        table.add_column(name, justify="right", no_wrap=True)
    errors: list[tuple[str, str]] = []
    for row in rows:
        if row.get("last_error"):
            errors.append((row["nation"], str(row["last_error"])))
        if row.get("configured") is False:
            table.add_row(row["nation"], Text("unpinned", style="yellow"), *(["—"] * 6))
            continue
        up = bool(row.get("connected"))
        link = Text("up", style="bold green") if up else Text("DOWN", style="bold red")
        if "inbound_connected" in row:
            link.append("/" + ("up" if row["inbound_connected"] else "down"))
        rtt = row.get("last_link_test_rtt_ms")
        backlog = int(row.get("backlog") or 0)
        table.add_row(
            row["nation"],
            link,
            _when(row.get("since")),
            Text(str(backlog), style="bold yellow" if backlog else ""),
            f"{row.get('acked_seq', 0)}/{row.get('last_seq', 0)}",
            "—" if rtt is None else f"{rtt:.1f}",
            str(row.get("missed_link_tests", 0)),
            str(row.get("refused", 0)),
        )
    console.print(table)
    for nation, error in errors:
        console.print(Text(f"{nation}: ", style="bold") + Text(error), highlight=False)


# ---- hotline pki ----------------------------------------------------------------------------


@click.group()
def pki() -> None:
    """This node's national CA and certificates; pinning peers."""


def _node_settings(node_dir: Path) -> Any:
    """The node's settings if ``DIR/node.toml`` exists (a bare PKI folder has none)."""
    from hotline.settings import CONFIG_FILE, load_settings

    if not (node_dir / CONFIG_FILE).exists():
        return None
    return load_settings(node_dir, {})


@pki.command("init")
@dir_option
@click.option("--nation", required=True, help="ISO 3166 alpha-3 code, e.g. USA.")
@click.option(
    "--host",
    "hosts",
    multiple=True,
    help="IP address or DNS name peers dial (repeatable; default 127.0.0.1 and localhost).",
)
@click.option("--renew-node", is_flag=True, help="Issue a new node certificate and key.")
@json_option
@_handle_errors
def pki_init(
    node_dir: Path, nation: str, hosts: tuple[str, ...], renew_node: bool, as_json: bool
) -> None:
    """Make the national CA, the node certificate and the event-signing key in DIR.

    Idempotent: an existing CA and signing key are kept, and the node certificate too unless
    --renew-node (use it with --host when the node moves to an address peers can reach).
    """
    from hotline.bootstrap import SIGNING_KEY
    from hotline.federation.trust import PKI_DIR, own_pins
    from hotline.pki import DEFAULT_HOSTS, init_pki
    from hotline.signing import generate_signing_key, save_signing_key

    settings = _node_settings(node_dir)
    code = nation.strip().upper()
    if settings is not None and settings.nation.upper() != code:
        raise ConfigError(f"{node_dir} is {settings.nation.upper()}'s node, not {code}'s")
    existed = (node_dir / PKI_DIR / "node.crt").exists()
    paths = init_pki(node_dir / PKI_DIR, code, hosts or DEFAULT_HOSTS, renew_node=renew_node)
    key_path = node_dir / SIGNING_KEY
    if not key_path.exists():
        save_signing_key(generate_signing_key(), key_path)
    made = {
        "dir": str(node_dir),
        "nation": code,
        **{k: str(v) for k, v in paths.items()},
        "node_cert_issued": renew_node or not existed,
        **own_pins(node_dir),
    }

    def human(m: dict[str, Any]) -> None:
        click.echo(f"{m['nation']} PKI in {node_dir / PKI_DIR}")
        click.echo(f"  CA certificate:   {m['ca_cert']}  (give it to every peer)")
        click.echo(f"  CA key:           {m['ca_key']}  (keep it offline once issued)")
        issued = "issued" if m["node_cert_issued"] else "kept"
        click.echo(f"  node certificate: {m['node_cert']} ({issued})")
        click.echo(f"  ca_fingerprint:   {m['ca_fingerprint']}")
        click.echo(f"  signing_key:      {m['signing_key']}")
        click.echo(f"  show what peers pin: hotline pki show --dir {node_dir}")

    _emit(made, as_json, human)


@pki.command("show")
@dir_option
@json_option
@_handle_errors
def pki_show(node_dir: Path, as_json: bool) -> None:
    """What every peer must pin for this node: CA fingerprint, signing key, address."""
    from hotline.federation.trust import own_pins
    from hotline.pki import load_certificate, nation_from_cert

    pins = own_pins(node_dir)
    settings = _node_settings(node_dir)
    if settings is not None:
        nation = settings.nation.upper()
        fed = settings.federation
        wildcard = fed.host in ("0.0.0.0", "::", "")
        address = None if wildcard else f"{fed.host}:{fed.port}"
    else:
        nation = nation_from_cert(load_certificate(Path(pins["ca_cert"])))
        address = None
    shown: dict[str, Any] = {"nation": nation, **pins, "address": address}
    if settings is not None and address is None:
        shown["port"] = settings.federation.port

    def human(m: dict[str, Any]) -> None:
        click.echo(f"{m['nation']}: what every peer pins for this node")
        click.echo(f"  ca_fingerprint = {m['ca_fingerprint']}")
        click.echo(f"  signing_key    = {m['signing_key']}")
        copy = f"{m['nation'].lower()}-ca.crt"
        click.echo(f"  CA certificate = {m['ca_cert']}  (send it as {copy}; it is public)")
        where = m["address"] or f"<this machine's address>:{m.get('port', 8821)}"
        click.echo(f"  federation     = {where}")
        click.echo("At each peer, after comparing the fingerprint over a second channel:")
        click.echo(
            f"  hotline pki trust --dir PEER_DIR --nation {m['nation']} "
            f"--ca {copy} --signing-key {m['signing_key']} "
            f"--fingerprint {m['ca_fingerprint']} --address {where}"
        )

    _emit(shown, as_json, human)


@pki.command("trust")
@dir_option
@click.option("--nation", required=True, help="The peer's ISO 3166 alpha-3 code, e.g. JPN.")
@click.option(
    "--ca",
    "ca_file",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="The peer's national CA certificate (PEM), as its 'hotline pki show' names it.",
)
@click.option("--signing-key", required=True, help="The peer's Ed25519 signing key (base64url).")
@click.option(
    "--fingerprint",
    "expected",
    default=None,
    help="The CA fingerprint the peer gave you over another channel: refuse a CA file that "
    "does not match it.",
)
@click.option("--address", default=None, help="The peer's federation listener, host:port.")
@json_option
@_handle_errors
def pki_trust(
    node_dir: Path,
    nation: str,
    ca_file: Path,
    signing_key: str,
    expected: str | None,
    address: str | None,
    as_json: bool,
) -> None:
    """Pin a peer: copy its CA certificate in, record its fingerprint and signing key.

    Takes effect when the node (re)starts.
    """
    from hotline.bootstrap import resolve_compact
    from hotline.federation.trust import trust_peer
    from hotline.pki import fingerprint, load_certificate, normalize_fingerprint

    code = nation.strip().upper()
    settings = _node_settings(node_dir)
    if settings is not None:
        compact = resolve_compact(settings, node_dir)
        if code == settings.nation.upper():
            raise ConfigError(f"{code} is this node's own nation; pin peers, not yourself")
        if code not in compact.nations:
            raise ConfigError(
                f"{code} is not a party of compact {compact.id} ({', '.join(compact.nations)})"
            )
    actual = fingerprint(load_certificate(ca_file))
    if expected is not None and normalize_fingerprint(expected) != actual:
        raise ConfigError(
            f"{ca_file} has fingerprint {actual}, not the {normalize_fingerprint(expected)} "
            f"{code} gave you: do not trust it"
        )
    if address is not None and not _is_address(address):
        raise ConfigError(f"--address {address!r} is not host:port")
    pinned = trust_peer(node_dir, code, ca_file, signing_key, address)

    def human(m: dict[str, Any]) -> None:
        click.echo(f"{m['nation']} pinned in {node_dir}")
        click.echo(f"  ca_fingerprint = {m['ca_fingerprint']}")
        click.echo(f"  signing_key    = {m['signing_key']}")
        if "address" in m:
            click.echo(f"  address        = {m['address']}")
        click.echo(f"Restart the node to link with {m['nation']}: hotline node start --dir ...")

    _emit(pinned, as_json, human)


def _is_address(text: str) -> bool:
    host, sep, port = text.rpartition(":")
    return bool(sep and host and port.isdigit() and 0 < int(port) < 65536)


def register(main: click.Group) -> None:
    """Add ``peers`` and ``pki`` to the ``hotline`` command group."""
    main.add_command(peers)
    main.add_command(pki)
