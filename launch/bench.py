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


def disk(size_mib: int = 64, log_level: int = 30, placement: str = "cpu 0, ide 1, disk 1") -> dict[str, Any]:
    """DMA through cpu -> ide -> image, against the transport's own limits
    and raw pread of the same file, all in one run."""
    from . import guests
    from .disks import parse
    from .machines import ide_direct

    ncpu = os.cpu_count() or 1
    pins = {part.split()[0]: int(part.split()[1]) % ncpu for part in placement.split(",")}
    with tempfile.TemporaryDirectory(prefix="reel-bench-") as tmp:
        path = os.path.join(tmp, "bench.img")
        with open(path, "wb") as f:  # real data, in the page cache: the disk is not what we measure
            for _ in range(size_mib):
                f.write(os.urandom(1 << 20))
        figures: dict[str, Any] = {}
        for guest in ("diskqd1", "diskseq"):
            name, image = guests.load(guest)
            topology = ide_direct(name, image, [parse(path)], console="none", cpus=pins)
            result = Launcher(topology, log_level=log_level, origin="bench disk").run()
            if result.code != 0:
                raise RuntimeError(f"{guest} failed: {result.reason}")
            figures[guest] = result.report
        qd1_us = figures["diskqd1"]["seconds"] / 2000 * 1e6
        seq_mbps = 4 * size_mib * (1 << 20) / figures["diskseq"]["seconds"] / 1e6
        raw = _raw_transport(tmp)
        pread_mbps = _raw_pread(path)
    return {
        "qd1_latency_us": qd1_us,
        "raw_rt_us": raw["rt_us"],
        "latency_over_rt": qd1_us / raw["rt_us"],
        "seq_read_mbps": seq_mbps,
        "raw_hop_mbps": raw["hop_mbps"],
        "seq_read_over_hop": seq_mbps / raw["hop_mbps"],
        "raw_pread_mbps": pread_mbps,
        "placement": placement,
    }


def _raw_transport(folder: str) -> dict[str, float]:
    """pyzmq + msgspec between two processes (cores 0 and 1): small round
    trips, and one-way 1 MiB frames."""
    import multiprocessing

    endpoint = f"ipc://{folder}/raw"
    ctx = multiprocessing.get_context("spawn")
    child = ctx.Process(target=_raw_peer, args=(endpoint,))
    child.start()
    try:
        return _raw_measure(endpoint)
    finally:
        child.join(10)
        if child.is_alive():
            child.kill()


RAW_RT, RAW_FRAMES = 2000, 400


def _raw_peer(endpoint: str) -> None:
    import msgspec
    import zmq

    os.sched_setaffinity(0, {1 % (os.cpu_count() or 1)})
    sock = zmq.Context().socket(zmq.PAIR)
    sock.connect(endpoint)
    enc, dec = msgspec.msgpack.Encoder().encode, msgspec.msgpack.Decoder().decode
    for _ in range(RAW_RT + 1):
        sock.send(enc(dec(sock.recv())))
    for _ in range(RAW_FRAMES):
        sock.recv(copy=False)
    sock.send(b"done")
    sock.close(linger=1000)


def _raw_measure(endpoint: str) -> dict[str, float]:
    import msgspec
    import zmq

    os.sched_setaffinity(0, {0})
    sock = zmq.Context().socket(zmq.PAIR)
    sock.bind(endpoint)
    enc, dec = msgspec.msgpack.Encoder().encode, msgspec.msgpack.Decoder().decode
    message = [1, 2, 3, b"x" * 16]
    sock.send(enc(message))
    dec(sock.recv())
    t0 = time.perf_counter()
    for _ in range(RAW_RT):
        sock.send(enc(message))
        dec(sock.recv())
    rt_us = (time.perf_counter() - t0) / RAW_RT * 1e6
    frame = os.urandom(1 << 20)
    t0 = time.perf_counter()
    for _ in range(RAW_FRAMES):
        sock.send(frame, copy=False)
    sock.recv()
    hop_mbps = RAW_FRAMES * len(frame) / (time.perf_counter() - t0) / 1e6
    sock.close(linger=0)
    return {"rt_us": rt_us, "hop_mbps": hop_mbps}


def _raw_pread(path: str) -> float:
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        t0 = time.perf_counter()
        for _ in range(4):
            for offset in range(0, size, 1 << 20):
                os.pread(fd, 1 << 20, offset)
        return 4 * size / (time.perf_counter() - t0) / 1e6
    finally:
        os.close(fd)
