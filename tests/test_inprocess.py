"""``launch.inprocess``: the compute half of ``reel bench disk`` runs the
same guest to the same end as a real run, and fails loudly otherwise."""

from __future__ import annotations

import pytest

from launch.guests import load
from launch.inprocess import compute_seconds


def test_diskqd1_runs_to_its_end_in_process_as_in_a_real_run() -> None:
    result = compute_seconds(load("diskqd1")[1], 16 << 20)
    assert result["console"] == b"diskqd1 2000 reads\n"
    assert result["icount"] > 2000 * 100  # every read ran its driver code
    # The same instructions as the real machine of processes ran. diskqd1
    # waits for each read in wfi, so its icount does not depend on timing,
    # as long as no poll (where a completion could be seen before the wfi)
    # falls between a read's start and its wfi: no polls, then.
    from launch import launch
    from launch.disks import parse
    from launch.machines import ide_direct

    real = launch(ide_direct(*load("diskqd1"), [parse("memory:16M")], console="none", poll_every=1 << 30))
    assert real.code == 0, real.reason
    assert real.report["icount"] == result["icount"]


def test_a_guest_that_fails_in_process_is_an_error() -> None:
    # No disk large enough for diskqd1's first read: its probe or a read fails, so it exits non-zero.
    with pytest.raises(RuntimeError, match="exit code [1-9]"):
        compute_seconds(load("diskqd1")[1], 512)
