"""``benchmarks/pages_per_commit.py``: the pages a message's commit writes, by b-tree, read
from a real WAL; the figures in docs/performance.md come from it."""

from __future__ import annotations

from types import ModuleType

import pytest

from tests.support import load_script


def _script() -> ModuleType:
    return load_script("pages_per_commit")


def test_a_receiver_indexes_its_own_receipt_and_a_sender_none() -> None:
    """Each stored message adds one entry to the receiver's due index (its own receipt) and
    none to the sender's; only the sender writes the outbox."""
    bench = _script()
    sender = bench.measure("camp-david", "sender", warm=200, commits=5)
    receiver = bench.measure("camp-david", "receiver", warm=200, commits=5)
    assert "receipts_due_own" not in sender["by_tree"]
    assert receiver["by_tree"]["receipts_due_own"] >= 1
    assert "receipts_due" not in receiver["by_tree"]  # the index of every nation's: dropped
    assert sender["by_tree"]["outbox"] >= 1 and "outbox" not in receiver["by_tree"]
    assert sender["pages_per_commit"] == pytest.approx(sum(sender["by_tree"].values()), abs=0.1)


def test_the_outbox_pages_of_a_commit_do_not_grow_with_the_peers() -> None:
    """With NATO's 32 nations a message goes on 31 peers' streams: its rows sit together
    (the outbox is keyed by the event), so the commit writes a page or two of the outbox and
    of its marks, not one per peer (43 pages when it was keyed by peer and seq)."""
    bench = _script()
    nato = bench.measure("nato-32", "sender", warm=300, commits=8)
    outbox_pages = nato["by_tree"]["outbox"] + nato["by_tree"].get("outbox_marks", 0.0)
    assert nato["peers"] == 31
    assert 1 <= outbox_pages <= 5


def test_counts_below_one_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    bench = _script()
    with pytest.raises(SystemExit):
        bench.main(["--commits", "0"])
    assert "0 is not a positive count" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench.main(["--compact", "warsaw-pact"])
    assert "invalid choice: 'warsaw-pact'" in capsys.readouterr().err
