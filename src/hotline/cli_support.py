"""What every ``hotline`` command shares: ``--json``, one-line errors with exit status 1, and
running a coroutine. Command modules import this, never ``hotline.cli`` (which imports them)."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Coroutine
from functools import wraps
from typing import Any, NoReturn, TypeVar

import click

from hotline.errors import HotlineError

T = TypeVar("T")

EXIT_FAILURE = 1

json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
node_option = click.option(
    "--node", required=True, help="The node's URL, e.g. http://127.0.0.1:8801"
)
as_option = click.option("--as", "handle", required=True, help="Your handle, e.g. usa.ops")
password_option = click.option(
    "--password", default=None, help="Password (else $HOTLINE_PASSWORD, else the demo password)."
)


def fail(message: str, *, as_json: bool = False) -> NoReturn:
    """Print one line (``hotline: ...``, or a JSON error) and exit 1."""
    if as_json:
        click.echo(json.dumps({"error": message}), err=True)
    else:
        click.echo(f"hotline: {message}", err=True)
    sys.exit(EXIT_FAILURE)


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        return asyncio.run(coro)
    return uvloop.run(coro)


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn every hotline error into one clear line and exit 1."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except HotlineError as exc:
            fail(str(exc), as_json=bool(kwargs.get("as_json")))
        except KeyboardInterrupt:
            sys.exit(130)

    return wrapper


def emit(data: Any, as_json: bool, human: Callable[[Any], None]) -> None:
    """``--json``: the data as one JSON document; otherwise ``human(data)``."""
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False))
    else:
        human(data)
