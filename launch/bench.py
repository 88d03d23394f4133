"""``reel bench``: benchmarks as commands, each comparing against a baseline
measured in the same run."""

from __future__ import annotations

import contextlib
import functools
import os
import statistics
import subprocess
import sys
import threading
import time
from typing import Any, Callable, Iterator

from actors._rss import peak_rss_mib
from actors.cpu.codecache import CODE_CACHE_ENV

from . import _scratch
from ._spawn import child_env
from ._steal import Steal
from .launcher import Launcher, RunResult
from .topology import ActorConfig, LinkConfig, RunConfig, Topology

BENCH_SPIN_US = 1000
"""Every benchmark runs with ``run.spin_us`` at this (a topology's default is
0, see actors._spin): a busy blocking actor waits awake this long before it
sleeps. On an otherwise idle machine that spares a wake-up per hop; under
CPU contention it costs more than it spares, so it is opt-in."""


def _spin_note(spin_us: int) -> str:
    return f"; busy actors wait awake up to {spin_us} us (run.spin_us)" if spin_us else "; actors never wait awake"


TRANSPORT_LIVENESS = 30.0
"""``bench transport``'s liveness bound, in seconds (see ``transport``)."""

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
    with _scratch.scratch("bench") as tmp:
        raw = f"ipc://{tmp}/raw"
        topology = Topology(
            name="bench-transport",
            # The raw blocks run outside the runtime, on both sides: no
            # heartbeat flows meanwhile, and on a loaded host one block can
            # outlast the default 3 s bound (seen under the test suite).
            run=RunConfig(transport="ipc", spin_us=BENCH_SPIN_US, liveness=TRANSPORT_LIVENESS),
            actor=[
                ActorConfig("client", "actors.examples.transport_bench:BenchClient",
                            {"raw_endpoint": raw, "rounds": rounds}, cpu=client_cpu),
                ActorConfig("echo", "actors.examples.echo:Echo", {"raw_endpoint": raw}, cpu=echo_cpu),
                ActorConfig("idle", "actors.examples.echo:Idle"),
            ],
            link=[LinkConfig(("client", "echo"))],
        )
        launcher = Launcher(topology, log_level=log_level, origin="bench transport")
        steal = Steal()
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
    report["idle_actor_peak_rss_mb"] = round(idle_peak.mib * (1 << 20) / 1e6, 1)  # the target's unit: MB, 10^6 bytes
    report["idle_actor_peak_rss_mib"] = round(idle_peak.mib, 1)
    report["steal_pct"] = steal.pct()
    report["placement"] = f"{placement}: client on core {client_cpu}, echo on core {echo_cpu}{_spin_note(BENCH_SPIN_US)}"
    report["spin_us"] = BENCH_SPIN_US
    report["transport"] = "ipc"
    return report


class _PeakRss:
    """Follows a process's peak resident set until it exits."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.mib = 0.0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._done.is_set():
            mib = peak_rss_mib(self.pid)
            if mib is None:
                return
            self.mib = max(self.mib, mib)
            time.sleep(0.05)

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


def disk(size_mib: int = 64, log_level: int = 30, placement: str = "cpu 0, cpu-io 1, ide 1, disk 1",
         rounds: int = 3) -> dict[str, Any]:
    """DMA through cpu -> ide -> image, against the transport's own limits
    and raw pread of the same file, all in one run.

    Each of ``rounds`` rounds measures the raw transport and then both
    guests, so that a ratio divides by the baseline of its own moment; the
    report gives the median of each figure and of each round's ratios
    (the raw round trip alone swung from 113 to 677 us within a day here).
    The rounds follow one unmeasured run of each guest, which compiles its
    code into the run's own code cache (``private_code_cache``)."""
    from . import guests
    from .disks import parse
    from .machines import ide_direct

    ncpu = os.cpu_count() or 1
    pins = {part.split()[0]: int(part.split()[1]) % ncpu for part in placement.split(",")}
    with _scratch.scratch("bench") as tmp, private_code_cache(tmp):
        path = os.path.join(tmp, "bench.img")
        with open(path, "wb") as f:  # real data, in the page cache: the disk is not what we measure
            for _ in range(size_mib):
                f.write(os.urandom(1 << 20))
            # Written back now, not by the kernel's flusher while the guests run.
            f.flush()
            os.fsync(f.fileno())

        def seconds(guest: str) -> float:
            name, image = guests.load(guest)
            topology = ide_direct(name, image, [parse(path)], console="none", cpus=pins)
            topology.run.spin_us = BENCH_SPIN_US
            result = Launcher(topology, log_level=log_level, origin="bench disk").run()
            if result.code != 0:
                raise RuntimeError(f"{guest} failed: {result.reason}")
            return float(result.report["seconds"])

        # One unmeasured run of each guest first: it fills the run's code
        # cache, so that every round measures reads, not the compiling of
        # the guest's code (which the first run of a guest pays once).
        seconds("diskqd1")
        seconds("diskseq")
        per_round = [_disk_round(tmp, seconds, size_mib) for _ in range(rounds)]
        compute_us = _compute_us(guests.load("diskqd1")[1], size_mib << 20)
        pread_mbps = _raw_pread(path)

    def median(key: str) -> float:
        return statistics.median(r[key] for r in per_round)

    steal = [r["steal_pct"] for r in per_round if r["steal_pct"] is not None]
    return {
        "qd1_latency_us": median("qd1_latency_us"),
        "raw_rt_us": median("raw_rt_us"),
        "latency_over_rt": median("latency_over_rt"),
        "seq_read_mbps": median("seq_read_mbps"),
        "raw_hop_mbps": median("raw_hop_mbps"),
        "seq_read_over_hop": median("seq_read_over_hop"),
        "compute_us": compute_us,
        "transport_us": median("qd1_latency_us") - compute_us,
        "raw_pread_mbps": pread_mbps,
        "rounds": rounds,
        "per_round": per_round,
        "steal_pct": statistics.median(steal) if steal else None,
        "steal_pct_max": max(steal) if steal else None,
        "placement": placement + _spin_note(BENCH_SPIN_US),
        "spin_us": BENCH_SPIN_US,
    }


def _disk_round(folder: str, seconds: Callable[[str], float], size_mib: int) -> dict[str, Any]:
    """One round of ``reel bench disk``: the raw transport, then diskqd1
    (2000 reads) and diskseq (the disk read four times), with the steal
    time over all three."""
    steal = Steal()
    raw = _raw_transport(folder)
    qd1_us = seconds("diskqd1") / 2000 * 1e6
    seq_mbps = 4 * size_mib * (1 << 20) / seconds("diskseq") / 1e6
    return {
        "qd1_latency_us": qd1_us, "raw_rt_us": raw["rt_us"], "latency_over_rt": qd1_us / raw["rt_us"],
        "seq_read_mbps": seq_mbps, "raw_hop_mbps": raw["hop_mbps"], "seq_read_over_hop": seq_mbps / raw["hop_mbps"],
        "steal_pct": steal.pct(),
    }


def _compute_us(image: bytes, disk_bytes: int, runs: int = 3) -> float:
    """Per QD1 read, what cpu and ide compute, without the transport: the
    median of ``runs`` in-process runs of diskqd1 (launch.inprocess)."""
    from .inprocess import compute_seconds

    return statistics.median(compute_seconds(image, disk_bytes)["seconds"] for _ in range(runs)) / 2000 * 1e6


def _raw_transport(folder: str) -> dict[str, float]:
    """pyzmq + msgspec between two processes (cores 0 and 1): small round
    trips, and one-way 1 MiB frames."""
    import zmq

    endpoint = f"ipc://{folder}/raw"
    # A plain child process: multiprocessing's spawn would also start its
    # resource tracker, a process that outlives the measurement.
    child = subprocess.Popen([sys.executable, "-c", f"from launch.bench import _raw_peer; _raw_peer({endpoint!r})"],
                             env=child_env())
    try:
        return _raw_measure(endpoint)
    except zmq.Again:
        raise RuntimeError(f"raw transport: the peer process answered nothing for {RAW_TIMEOUT_MS / 1000:g} s "
                           f"(its exit code: {child.poll()})") from None
    finally:
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


RAW_RT, RAW_FRAMES = 2000, 400
RAW_TIMEOUT_MS = 10_000


def _raw_peer(endpoint: str) -> None:
    import msgspec
    import zmq

    os.sched_setaffinity(0, {1 % (os.cpu_count() or 1)})
    sock = zmq.Context().socket(zmq.PAIR)
    sock.rcvtimeo = sock.sndtimeo = RAW_TIMEOUT_MS  # if the measuring side dies, end rather than linger
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

    allowed = os.sched_getaffinity(0)
    ctx = zmq.Context()
    sock = ctx.socket(zmq.PAIR)
    sock.rcvtimeo = sock.sndtimeo = RAW_TIMEOUT_MS  # a dead peer is an error, not a hang
    try:
        # On core 0 for the measurement; this process launches the guests
        # next, so it gets all its cores back after (see finally).
        os.sched_setaffinity(0, {0})
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
    finally:
        sock.close(linger=0)
        ctx.term()
        os.sched_setaffinity(0, allowed)
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


CPU_RSS_BEYOND_RAM_MIB = 64
"""Issue 3's bound on the cpu process: its peak RSS at most this much more
than the guest's RAM."""


def cpu(log_level: int = 30) -> dict[str, Any]:
    """The bundled ``bench`` guest alone on core 0: guest instructions per
    second of its run, and the cpu process's peak RSS against its RAM.

    Twice, on a code cache of its own: first empty (``mips_cold``: every
    region compiled during the run), then holding what the first run
    compiled (``mips``: a guest's second run on, the steady state)."""
    from .guests import load
    from .machines import cpu_only

    name, image = load("bench")
    steal = Steal()
    with _scratch.scratch("bench") as tmp, private_code_cache(tmp):
        cold, warm = (_cpu_run(cpu_only(name, image, cpu=0, console="none"), log_level) for _ in range(2))
    rss = None if warm["peak_rss_mib"] is None else max(cold["peak_rss_mib"], warm["peak_rss_mib"])
    return {
        "mips": warm["mips"], "mips_cold": cold["mips"], "icount": warm["icount"], "seconds": warm["seconds"],
        "seconds_cold": cold["seconds"], "peak_rss_mib": rss, "ram_mib": warm["ram_mib"],
        "rss_beyond_ram_mib": None if rss is None else rss - warm["ram_mib"],
        "code_cache": {"cold": cold["code_cache"], "warm": warm["code_cache"]},
        "placement": "cpu actor pinned to core 0", "steal_pct": steal.pct(),
    }


def _cpu_run(topology: Topology, log_level: int) -> dict[str, Any]:
    result = Launcher(topology, log_level=log_level, origin="bench cpu").run()
    if result.code != 0:
        raise RuntimeError(f"bench failed: {result.reason}")
    return result.report


@contextlib.contextmanager
def private_code_cache(folder: str) -> Iterator[str]:
    """Actors started meanwhile keep compiled code in ``folder``/code (see
    actors.cpu.codecache), not in the user's cache: a benchmark (or a test
    session) starts from an empty one whatever ran before."""
    path = os.path.join(folder, "code")
    before = os.environ.get(CODE_CACHE_ENV)
    os.environ[CODE_CACHE_ENV] = path
    try:
        yield path
    finally:
        if before is None:
            del os.environ[CODE_CACHE_ENV]
        else:
            os.environ[CODE_CACHE_ENV] = before


REPLAY_GUEST = "diskqd1"  # 2000 reads at queue depth 1: one checkpoint each, the most of the bundled guests
REPLAY_PLACEMENT = "cpu 0, others 1"


def replay(repetitions: int = 5, log_level: int = 30, size_mib: int = 16, latency: str = "none",
           spin_us: int = BENCH_SPIN_US) -> dict[str, Any]:
    """The cost of recording and replaying: the same guest in ide-direct,
    record and replay, interleaved ``repetitions`` times; medians.

    The time of a run is its ``run_seconds``: from the launcher's Start to
    the finishing actor's report (the cpu's in direct, the logger's in
    record and replay, which includes its final disk digests), so that
    starting and stopping the actor processes do not count."""
    from . import guests, recording

    name, image = guests.load(REPLAY_GUEST)
    placed = functools.partial(_placed, spin_us=spin_us)
    seconds: dict[str, list[float]] = {"direct": [], "record": [], "replay": []}
    checkpoint_rates: list[float] = []
    bytes_per_event: list[float] = []
    steal = Steal()
    with _scratch.scratch("bench") as tmp, private_code_cache(tmp):
        base = _random_disk(os.path.join(tmp, "base.img"), size_mib)
        for rep in range(repetitions):
            seconds["direct"].append(_direct_seconds(name, image, base, os.path.join(tmp, f"direct{rep}"), spin_us,
                                                     latency, log_level))
            log = os.path.join(tmp, f"run{rep}.reel")
            recorded = recording.record(name, image, [base], log, latency, 0, "raw", 16, log_level,
                                        placed, console="none")
            _check(recorded, "record", "logger")
            replayed = recording.replay(log, [], latency, 0, "raw", log_level, placed, console="none")
            _check(replayed, "replay", "logger")
            summary = recording.inspect(log)["summary"]
            seconds["record"].append(recorded.run_seconds)
            seconds["replay"].append(replayed.run_seconds)
            checkpoint_rates.append(summary["checkpoints"] / recorded.run_seconds)
            bytes_per_event.append(summary["bytes_per_event"])
    medians = {mode: statistics.median(values) for mode, values in seconds.items()}
    return {
        "record_over_direct": medians["record"] / medians["direct"],
        "replay_over_record": medians["replay"] / medians["record"],
        "checkpoints_per_s": statistics.median(checkpoint_rates),
        "log_bytes_per_event": statistics.median(bytes_per_event),
        "direct_s": medians["direct"], "record_s": medians["record"], "replay_s": medians["replay"],
        "seconds": seconds, "repetitions": repetitions, "guest": REPLAY_GUEST, "disk_mib": size_mib,
        "latency": latency, "placement": REPLAY_PLACEMENT + _spin_note(spin_us), "spin_us": spin_us,
        "steal_pct": steal.pct(),
        "timing": "wall time from the launcher's Start to the finishing actor's report (cpu in direct, logger in "
                  "record/replay, its final disk digests included); actor start-up and stop excluded",
    }


def _random_disk(path: str, size_mib: int) -> str:
    with open(path, "wb") as f:  # real data, soon in the page cache: the host disk is not what we measure
        for _ in range(size_mib):
            f.write(os.urandom(1 << 20))
    return path


def _direct_seconds(name: str, image: bytes, base: str, folder: str, spin_us: int, latency: str,
                    log_level: int) -> float:
    from .machines import ide_direct
    from .recording import working_copy

    os.mkdir(folder)
    copy = working_copy(base, folder, 0)  # as record and replay do: the same page-cache state to read from
    result = _placed(Launcher(ide_direct(name, image, [copy], latency=latency, console="none"),
                              log_level=log_level, origin="bench replay"), spin_us)
    _check(result, "direct", "cpu")
    return result.run_seconds


def _placed(launcher: Launcher, spin_us: int = BENCH_SPIN_US) -> RunResult:
    """Run with the cpu actor alone on core 0 and every other actor on
    core 1, whatever the topology (record and replay build their own), and
    with ``spin_us`` as run.spin_us."""
    launcher.topology.run.spin_us = spin_us
    ncpu = os.cpu_count() or 1
    for actor in launcher.topology.actor:
        actor.cpu = 0 if actor.name == "cpu" else 1 % ncpu
    return launcher.run()


def _check(result: RunResult, mode: str, finisher: str) -> None:
    if result.code != 0 or result.finished_by != finisher:
        raise RuntimeError(f"{REPLAY_GUEST} in {mode} failed (exit {result.code}): {result.reason}")
