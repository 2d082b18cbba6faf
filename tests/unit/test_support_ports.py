"""The tests' port blocks: claimed per process, so two test runs on one machine never share one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support import _claim, free_base_port

ROOT = Path(__file__).resolve().parents[2]


def _claim_elsewhere(base: int) -> bool:
    code = f"from tests.support import _claim; print(_claim({base}))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return out.stdout.strip() == "True"


def test_a_block_is_handed_out_once_and_not_to_another_process() -> None:
    base = free_base_port()
    assert base % 100 == 0 and 10000 <= base < 32000
    assert free_base_port() != base
    assert not _claim(base)  # not twice in this process
    assert not _claim_elsewhere(base)  # nor to another one while this one lives


def test_a_block_is_free_again_when_its_process_has_exited() -> None:
    for base in range(31900, 10000, -100):
        if _claim_elsewhere(base):  # the child claimed it and exited
            assert _claim(base)
            return
    raise AssertionError("no block could be claimed at all")
