"""``benchmarks/nato_flash.py`` (32 real nodes: run by hand, figures in docs/performance.md):
its arguments are checked before anything starts."""

from __future__ import annotations

import pytest

from tests.support import load_script


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--messages", "0"], "0 is not a positive count"),
        (["--gap-s", "-1"], "'-1' is not a duration (seconds, 0 or more)"),
        (["--gap-s", "soon"], "'soon' is not a duration (seconds, 0 or more)"),
        (["--gap-s", "nan"], "'nan' is not a duration (seconds, 0 or more)"),
    ],
)
def test_bad_arguments_are_refused_before_any_node_starts(
    args: list[str], error: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        load_script("nato_flash").main(args)
    assert error in capsys.readouterr().err
