"""One BLAS thread for the node's numerics.

NumPy's OpenBLAS starts one thread per core and splits any product above a small size between
them (the association pre-gate's ``(M, 16) @ (16, N)``, the process noise's ``(k, 5) @ (5,
162)``). The fuser's products are small: the split costs more than it saves, and the idle
threads spin while they wait for the next one. Measured over the 200-missile salvo of
``hotline bench tracks`` fused in 1 s batches (``docs/performance.md``): the same wall time,
but about 35 % more CPU with the default threads (the second core spinning), and 25 % more
instructions executed (callgrind, 30,000 reports). On a node, that second core is the one its
event loop, SQLite writer and TLS need; so the node (and the benchmarks that measure what a
node does) run BLAS on the calling thread alone.
"""

from __future__ import annotations

import numpy  # noqa: F401  (loads NumPy's BLAS: a library not yet loaded cannot be limited)
from threadpoolctl import threadpool_limits


def single_threaded_blas() -> None:
    """Limit NumPy's BLAS (and any other loaded in this process) to one thread, for the
    process's life (NumPy is imported with this module, so its BLAS is among them)."""
    threadpool_limits(limits=1, user_api="blas")
