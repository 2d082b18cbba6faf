"""``hotline bench tracks``: runs ``benchmarks/tracks_bench.py`` (its ``run(args) -> dict``).

The script lives in the repository, not in the package, so it is found from the current
folder upwards or beside the source tree; a clear error says so when it is not there.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import click

SCRIPT = Path("benchmarks") / "tracks_bench.py"


def find_script() -> Path | None:
    starts = [Path.cwd(), Path(__file__).resolve().parents[3]]
    for start in starts:
        for folder in (start, *start.parents):
            if (folder / SCRIPT).is_file():
                return folder / SCRIPT
    return None


def load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("hotline_tracks_bench", path)
    if spec is None or spec.loader is None:
        raise click.ClickException(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


@click.command("tracks")
@click.option("--runs", type=int, default=None, help="Monte Carlo runs per missile class.")
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--classes", default=None, help="e.g. srbm,mrbm,irbm,icbm")
@click.option("--salvo", type=int, default=None, help="Missiles in the throughput salvo.")
@click.option(
    "--repeat",
    type=click.IntRange(min=1),
    default=None,
    help="Throughput runs per configuration; the best and the median are reported [3].",
)
@click.option("--quick", is_flag=True, help="Fewer runs and evaluation times.")
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes for the accuracy runs [the machine's CPUs].",
)
@click.option("--no-plot", is_flag=True)
@click.option(
    "--artifacts",
    default=None,
    help="Folder for the script's JSON and plots (its own --out; default artifacts/bench-tracks).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the JSON figures only.")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Append the JSON figures as one line to this file.",
)
def tracks_cmd(
    runs: int | None,
    seed: int,
    classes: str | None,
    salvo: int | None,
    repeat: int | None,
    quick: bool,
    jobs: int | None,
    no_plot: bool,
    artifacts: str | None,
    as_json: bool,
    out: Path | None,
) -> None:
    """Missile-warning fusion: impact accuracy and ingest throughput (tracks_bench.py)."""
    path = find_script()
    if path is None:
        raise click.ClickException(
            f"{SCRIPT} not found from {Path.cwd()} upwards: run from the repository"
        )
    module = load(path)
    args = {
        "runs": runs,
        "seed": seed,
        "classes": classes,
        "salvo": salvo,
        "repeat": repeat,
        "quick": quick,
        "jobs": jobs,
        "no_plot": no_plot,
        "out": artifacts,
    }
    captured = io.StringIO()
    with contextlib.redirect_stdout(captured) if as_json else contextlib.nullcontext():
        result: dict[str, Any] = module.run(args)
    record = {"bench": "tracks", **result}
    text = json.dumps(record, default=float)
    click.echo(text if as_json else json.dumps(record, indent=1, default=float))
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("a") as f:
            f.write(text + "\n")
