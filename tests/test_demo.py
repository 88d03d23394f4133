"""``reel demo``, ``reel bench replay`` and ``reel bench disk``, end to end through the command line."""

from __future__ import annotations

import json
import re

from .conftest import run_reel

# Each command runs several machines one after the other (a few seconds
# each, more on a busy two-core host): a hang still fails the test.
TIMEOUT = 300


def test_demo_replays_equal_the_recording() -> None:
    result = run_reel("demo", timeout=TIMEOUT)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    for step in range(1, 6):
        assert f"[{step}/5]" in out  # the progress lines
    header = next(line for line in out.splitlines() if line.split()[:1] == ["recording"])
    assert header.split() == ["recording", "replay", "1", "replay", "2", "direct", "1", "direct", "2"]
    rows = {m.group(1): m.group(2).split() for m in re.finditer(r"^(console|exit code|icount|cpu state|memory|"
                                                                r"disk \d)\s+(.*)$", out, re.MULTILINE)}
    assert set(rows) == {"console", "exit code", "icount", "cpu state", "memory", "disk 0", "disk 1"}
    for row, cells in rows.items():
        assert len(cells) == 5 and "-" not in cells, (row, cells)
        assert cells[1] == cells[0] and cells[2] == cells[0], f"{row}: a replay differs from the recording"
    assert "replay 1: equal to the recording in every row" in out
    assert "replay 2: equal to the recording in every row" in out
    assert "verdict: both replays reproduced the recording exactly" in out


def test_bench_replay_json() -> None:
    # Not waiting awake: this checks the report, and the suite loads the machine (see actors._spin).
    result = run_reel("-q", "bench", "replay", "--json", "--repetitions", "1", "--spin-us", "0", timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    for key in ("record_over_direct", "replay_over_record", "checkpoints_per_s", "log_bytes_per_event",
                "direct_s", "record_s", "replay_s"):
        assert isinstance(report[key], float) and report[key] > 0, (key, report[key])
    assert report["repetitions"] == 1 and report["spin_us"] == 0
    assert all(len(times) == 1 for times in report["seconds"].values())
    assert report["placement"] and report["latency"] and report["timing"]


def test_bench_replay_refuses_zero_repetitions() -> None:
    result = run_reel("bench", "replay", "--repetitions", "0")
    assert result.returncode == 2 and "--repetitions 0" in result.stderr


def test_bench_disk_json_gives_each_rounds_figures_and_their_medians() -> None:
    result = run_reel("-q", "bench", "disk", "--json", "--rounds", "2", timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr
    assert "left behind" not in result.stderr  # its raw peer's helpers (a resource tracker) end with it
    report = json.loads(result.stdout)
    assert report["rounds"] == 2 and len(report["per_round"]) == 2
    for key in ("qd1_latency_us", "raw_rt_us", "latency_over_rt", "seq_read_mbps", "raw_hop_mbps",
                "seq_read_over_hop"):
        values = [r[key] for r in report["per_round"]]
        assert all(v > 0 for v in values), (key, values)
        assert report[key] == sum(values) / 2, key  # the median of two
    for r in report["per_round"]:  # each ratio divides by its own round's baseline
        assert r["latency_over_rt"] == r["qd1_latency_us"] / r["raw_rt_us"]
    assert report["compute_us"] > 0 and report["raw_pread_mbps"] > 0
    assert 0 <= report["steal_pct"] <= report["steal_pct_max"] <= 100  # (Linux: /proc/stat counts steal)


def test_bench_transport_json_gives_every_figure_in_its_unit() -> None:
    result = run_reel("-q", "bench", "transport", "--json", "--rounds", "1", timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["rounds"] == 1
    for key in ("rt_us", "raw_rt_us", "rt_ratio", "raw_awake_rt_us", "rt_awake_ratio", "small_throughput_ratio",
                "bulk_throughput_ratio", "idle_actor_peak_rss_mib"):
        assert isinstance(report[key], float) and report[key] > 0, (key, report[key])
    # MB as the target is written (10^6 bytes), MiB beside it.
    assert abs(report["idle_actor_peak_rss_mb"] - report["idle_actor_peak_rss_mib"] * 1.048576) <= 0.1
