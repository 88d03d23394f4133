"""``reel bench``: benchmarks as commands, each comparing against a baseline
measured in the same run."""

from __future__ import annotations

import os
import tempfile
import threading
import time
from typing import Any

from .launcher import Launcher
from .topology import ActorConfig, LinkConfig, RunConfig, Topology

PLACEMENTS = {
    "split": (0, 1),  # client and echo server on different cores
    "same": (0, 0),  # both on core 0
}


def transport(placement: str = "split", rounds: int = 5, log_level: int = 30) -> dict[str, Any]:
    """Runtime against raw pyzmq+msgspec: round trip, small and bulk
    throughput, and the peak RSS of an idle actor."""
    cores = PLACEMENTS[placement]
    ncpu = os.cpu_count() or 1
    client_cpu, echo_cpu = (c % ncpu for c in cores)
    with tempfile.TemporaryDirectory(prefix="reel-bench-") as tmp:
        raw = f"ipc://{tmp}/raw"
        topology = Topology(
            name="bench-transport",
            run=RunConfig(transport="ipc"),
            actor=[
                ActorConfig("client", "actors.examples.transport_bench:BenchClient",
                            {"raw_endpoint": raw, "rounds": rounds}, cpu=client_cpu),
                ActorConfig("echo", "actors.examples.echo:Echo", {"raw_endpoint": raw}, cpu=echo_cpu),
                ActorConfig("idle", "actors.examples.echo:Idle"),
            ],
            link=[LinkConfig(("client", "echo"))],
        )
        launcher = Launcher(topology, log_level=log_level, origin="bench transport")
        with launcher:
            if launcher.start():
                idle_peak = _PeakRss(launcher.procs["idle"].pid)
                result = launcher.wait()
                idle_peak.stop()
            else:
                result = launcher.result()
    if result.code != 0:
        raise RuntimeError(f"transport benchmark failed: {result.reason}")
    report = dict(result.report)
    report["idle_actor_peak_rss_mb"] = idle_peak.mb
    report["placement"] = f"{placement}: client on core {client_cpu}, echo on core {echo_cpu}"
    report["transport"] = "ipc"
    return report


class _PeakRss:
    """Follows a process's VmHWM (peak resident set) until it exits."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.kb = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._done.is_set():
            try:
                with open(f"/proc/{self.pid}/status") as f:
                    for line in f:
                        if line.startswith("VmHWM:"):
                            self.kb = max(self.kb, int(line.split()[1]))
            except OSError:
                return
            time.sleep(0.05)

    def stop(self) -> None:
        self._done.set()
        self._thread.join()

    @property
    def mb(self) -> float:
        return round(self.kb / 1024, 1)
