"""The cpu actor in a real topology: its device window, console and report."""

from __future__ import annotations

import logging
from pathlib import Path

from launch import ActorConfig, LinkConfig, RunConfig, Topology, launch

from .conftest import REPO, build_guest


def test_window_reads_wait_dma_is_served_and_interrupts_come_right_after(tmp_path: Path, capfd) -> None:
    image = build_guest([REPO / "tests" / "guests" / "window.c"], tmp_path / "window.elf").read_bytes()
    topology = Topology(
        actor=[ActorConfig("cpu", "actors.cpu:Cpu", {"elf": image, "name": "window", "ide": "dev"}),
               ActorConfig("dev", "tests.actors_for_tests:WindowDevice")],
        link=[LinkConfig(("cpu", "dev"))],
    )
    result = launch(topology, log_level=logging.WARNING)
    assert result.code == 0, result.reason
    assert "window ok" in capfd.readouterr().out
    assert result.report["interrupts"] == 1
    assert result.stats["cpu"].received > 0 and result.stats["dev"].received > 0


def test_a_guest_that_runs_too_long_is_stopped_with_124() -> None:
    image = (REPO / "launch" / "guests" / "bench.elf").read_bytes()
    topology = Topology(actor=[ActorConfig("cpu", "actors.cpu:Cpu",
                                           {"elf": image, "max_instructions": 100_000, "console": "none"})])
    result = launch(topology, log_level=logging.WARNING)
    assert result.code == 124
    assert "did not exit within 100000 instructions" in result.reason
    assert result.report["icount"] == 100_000


def test_the_cpu_reports_its_peak_rss_beside_its_ram() -> None:
    """What reel bench cpu holds against issue 3's bound (peak RSS at most
    64 MiB beyond the guest RAM): the kernel's figure for the cpu process."""
    image = (REPO / "launch" / "guests" / "hello.elf").read_bytes()
    topology = Topology(actor=[ActorConfig("cpu", "actors.cpu:Cpu", {"elf": image, "console": "none", "ram_mib": 8})])
    result = launch(topology, log_level=logging.WARNING)
    assert result.code == 0, result.reason
    assert result.report["ram_mib"] == 8
    assert 10 < result.report["peak_rss_mib"] < 8 + 64  # an interpreter with zmq loaded is over 10 MiB


def test_the_largest_ram_costs_what_the_guest_touches() -> None:
    """2 GiB of RAM was a bytearray, zeroed whole before the guest began (3 s
    here, with no heartbeat: under load the cpu was taken for hung) and
    resident whole; its digest then read every page. Now pages are the
    kernel's zero page until written: hello's cpu stays small."""
    image = (REPO / "launch" / "guests" / "hello.elf").read_bytes()
    topology = Topology(actor=[ActorConfig("cpu", "actors.cpu:Cpu", {"elf": image, "console": "none",
                                                                      "ram_mib": 2048})])
    result = launch(topology, log_level=logging.WARNING)
    assert result.code == 0, result.reason
    assert result.report["peak_rss_mib"] < 200, result.report["peak_rss_mib"]
    assert result.report["memory_digest"] != ""


def test_a_memory_digest_longer_than_the_liveness_bound_loses_no_peer() -> None:
    """The cpu takes no frame while it digests the guest's RAM: the
    launcher's heartbeats wait in its inbox, and a digest longer than the
    liveness bound (2 GiB under load in CI) had the cpu leave as if the
    launcher were gone, with a traceback. Here the bound is shorter than
    the digest (about 0.5 s unloaded), yet long enough for heartbeats on a
    loaded host (0.25 s failed 3 runs of 16 with two cores kept busy)."""
    image = (REPO / "launch" / "guests" / "hello.elf").read_bytes()
    topology = Topology(run=RunConfig(liveness=0.3),
                        actor=[ActorConfig("cpu", "actors.cpu:Cpu", {"elf": image, "console": "none",
                                                                      "ram_mib": 2048})])
    result = launch(topology, log_level=logging.WARNING)
    assert result.code == 0, result.reason
