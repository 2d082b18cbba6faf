"""``hotline bench``: loopback benchmarks of this project, in the shape of ``shared/bench``.

  hotline bench hotline      ONE node: FLASH latency to two live streams, durable msg/s
  hotline bench federation   THREE nodes (real processes): FLASH end to end at all three
                             nations, throughput delivered durably everywhere
  hotline bench tracks       missile-warning fusion (runs ``benchmarks/tracks_bench.py``)

``benchmarks/README.md`` tells how to run them beside the peers' benches.
"""

from __future__ import annotations

import click

from hotline.bench.federation import federation_cmd
from hotline.bench.hotline import hotline_cmd
from hotline.bench.tracks import tracks_cmd


@click.group()
def bench() -> None:
    """Benchmarks on 127.0.0.1 (figures as a table and JSON; --out appends JSONL)."""


bench.add_command(hotline_cmd)
bench.add_command(federation_cmd)
bench.add_command(tracks_cmd)
