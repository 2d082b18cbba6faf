"""``benchmarks/nato_flash.py`` (32 real nodes: run by hand, figures in docs/performance.md):
its arguments are checked before anything starts."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "nato_flash.py"


def test_counts_below_one_are_refused_before_any_node_starts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    spec = importlib.util.spec_from_file_location("nato_flash", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    with pytest.raises(SystemExit):
        module.main(["--messages", "0"])
    assert "0 is not a positive count" in capsys.readouterr().err
