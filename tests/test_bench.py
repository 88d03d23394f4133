"""``launch.bench``'s own robustness (the benchmarks themselves are commands,
not tests)."""

from __future__ import annotations

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
