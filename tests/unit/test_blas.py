"""The node's numerics run BLAS on the calling thread alone (``hotline.tracks.blas``)."""

from __future__ import annotations

import json
import subprocess
import sys

CHECK = """
import json
from threadpoolctl import threadpool_info
from hotline.tracks.blas import single_threaded_blas
single_threaded_blas()
print(json.dumps([(i["user_api"], i["num_threads"]) for i in threadpool_info()]))
"""


def test_every_blas_runs_one_thread_even_when_called_before_numpy_is_imported() -> None:
    # A fresh interpreter, with two threads asked for, and NumPy not yet imported when the
    # limit is set: the limit must still reach NumPy's BLAS.
    env = {"OPENBLAS_NUM_THREADS": "2", "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", CHECK], capture_output=True, text=True, check=True, env=env
    ).stdout
    pools = json.loads(out)
    blas = [n for api, n in pools if api == "blas"]
    assert blas and all(n == 1 for n in blas), pools
