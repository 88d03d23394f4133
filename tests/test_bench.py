"""``launch.bench``'s own robustness (the benchmarks themselves are commands,
not tests)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest


def test_the_raw_transport_measure_gives_up_on_a_silent_peer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """reel bench disk's raw baseline: a peer that died (or never came)
    ends the measure with an error instead of a hang."""
    import os

    import zmq

    from launch import bench

    monkeypatch.setattr(bench, "RAW_TIMEOUT_MS", 200)
    cores = os.sched_getaffinity(0)  # the measure pins its process
    try:
        with pytest.raises(zmq.Again):
            bench._raw_measure(f"ipc://{tmp_path}/raw")
    finally:
        os.sched_setaffinity(0, cores)


def _stat(path: Path, steal: int, total_rest: int) -> None:
    # user nice system idle iowait irq softirq steal (guest figures left out)
    path.write_text(f"cpu  {total_rest} 0 0 0 0 0 0 {steal}\ncpu0 1 2 3\n")


def test_steal_is_the_stolen_share_of_the_ticks_in_between(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from launch import _steal

    stat = tmp_path / "stat"
    monkeypatch.setattr(_steal, "STAT", str(stat))
    _stat(stat, steal=100, total_rest=900)
    steal = _steal.Steal()
    _stat(stat, steal=130, total_rest=1000)  # 130 ticks passed, 30 of them stolen
    assert steal.pct() == pytest.approx(100 * 30 / 130)
    assert _steal.Steal().pct() == 0.0  # no tick in between


@pytest.mark.parametrize("text", ["", "intr 1 2 3\n", "cpu  1 2 3 4\n"])
def test_steal_is_none_where_the_kernel_does_not_count_it(text: str, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from launch import _steal

    stat = tmp_path / "stat"
    stat.write_text(text)
    monkeypatch.setattr(_steal, "STAT", str(stat))
    assert _steal.Steal().pct() is None
    monkeypatch.setattr(_steal, "STAT", str(tmp_path / "missing"))
    assert _steal.Steal().pct() is None


def test_steal_on_this_machine_reads_a_share() -> None:
    from launch._steal import Steal, _ticks

    steal = Steal()
    before = _ticks()
    end = time.monotonic() + 0.05
    while time.monotonic() < end:  # long enough for the clock ticks to move
        pass
    after = _ticks()
    assert before is not None and after is not None and after[1] > before[1]
    pct = steal.pct()
    assert pct is not None and 0.0 <= pct <= 100.0


@pytest.mark.parametrize("what", ["disk", "transport"])
def test_bench_refuses_zero_rounds(what: str) -> None:
    from .conftest import run_reel

    result = run_reel("bench", what, "--rounds", "0")
    assert result.returncode == 2 and "--rounds 0: at least 1" in result.stderr


def test_a_benchmark_taken_under_heavy_steal_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    from launch.cli import STEAL_WARN_PCT, _print_bench

    rows = [("ratio", "a ratio", "<= 4")]
    _print_bench({"placement": "here", "ratio": 1.0, "steal_pct": 1.0, "steal_pct_max": STEAL_WARN_PCT + 20}, False,
                 rows)
    assert "warning: the hypervisor took over" in capsys.readouterr().out
    _print_bench({"placement": "here", "ratio": 1.0, "steal_pct": 0.0, "steal_pct_max": 0.4}, False, rows)
    _print_bench({"placement": "here", "ratio": 1.0, "steal_pct": 2.0}, False, rows)
    assert "warning" not in capsys.readouterr().out


def test_a_benchmark_names_the_python_that_ran_it(capsys: pytest.CaptureFixture[str]) -> None:
    """The interpreter's build moves every figure (see launch.cli.interpreter),
    so a report says which one it was, in text and in JSON."""
    import json
    import platform
    import sys

    from launch.cli import _run_bench

    rows = [("ratio", "a ratio", "<= 4")]
    assert _run_bench(lambda: {"placement": "here", "ratio": 1.0}, False, rows) == 0
    assert f"python: CPython {platform.python_version()} ({sys.executable})" in capsys.readouterr().out
    assert _run_bench(lambda: {"placement": "here", "ratio": 1.0}, True, rows) == 0
    assert json.loads(capsys.readouterr().out)["python"].endswith(f"({sys.executable})")
