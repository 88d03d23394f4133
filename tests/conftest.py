"""Shared helpers: run topologies, drive the ``reel`` command, and check
the process table for leftovers."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import psutil
import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True, scope="session")
def _code_cache_of_the_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Actors keep compiled code (actors.cpu.codecache) in a folder of this
    test session, not in the user's cache: what a test sees does not
    depend on what ran on this machine before."""
    from launch.bench import private_code_cache

    with private_code_cache(str(tmp_path_factory.mktemp("code-cache"))):
        yield


def reel_command(*args: str) -> list[str]:
    """``reel ARGS`` as the installed console script would run it."""
    return [sys.executable, "-c", "import sys; from launch._entry import main; sys.exit(main())", *args]


def run_reel(*args: str, timeout: float = 60, under: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """``reel ARGS``; ``under``: a command that runs it (``taskset -c 0``)."""
    return subprocess.run([*under, *reel_command(*args)], capture_output=True, text=True, timeout=timeout, cwd=REPO,
                          env=_env())


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    return env


class LaunchedRun:
    """``reel -v launch TOPOLOGY`` in the background, until its actors run."""

    STARTED = re.compile(r"run (\w+) started: (.*)$")

    def __init__(self, topology: Path, *extra: str, ignore: tuple[signal.Signals, ...] = ()) -> None:
        """``ignore``: signals reel starts with ignored (as under ``nohup``)."""
        def ignored() -> None:
            for signum in ignore:
                signal.signal(signum, signal.SIG_IGN)
        self.proc = subprocess.Popen(reel_command("-v", "launch", str(topology), *extra), stderr=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, cwd=REPO, env=_env(), preexec_fn=ignored)
        self.lines: list[str] = []
        self.run_id = ""
        self.pids: dict[str, int] = {}

    def wait_started(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self._read_line(deadline)
            if line is None:
                break
            m = self.STARTED.search(line)
            if m:
                self.run_id = m.group(1)
                self.pids = {name: int(pid) for name, pid in re.findall(r"(\w+) \(pid (\d+)\)", m.group(2))}
                return
        raise AssertionError("the run did not start:\n" + "\n".join(self.lines))

    def _read_line(self, deadline: float) -> str | None:
        assert self.proc.stderr is not None
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stderr], [], [], 0.1)
            if ready:
                line = self.proc.stderr.readline()
                if not line:
                    return None
                self.lines.append(line.rstrip("\n"))
                return line
        return None

    def finish(self, timeout: float = 10) -> tuple[int, str, str]:
        """Exit code, stdout and stderr (all of it) once the launcher ends."""
        out, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, out, "\n".join(self.lines) + "\n" + err

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def actor_processes(run_id: str) -> list[psutil.Process]:
    """Live processes of a run, found by the run id in their command line."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        try:
            cmdline = proc.info["cmdline"] or []
            if "--run" in cmdline and run_id in cmdline and proc.info["status"] != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def wait_gone(pids: list[int], timeout: float) -> float:
    """Seconds until every pid is gone (or a zombie); fails after timeout."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        alive = [p for p in pids if _alive(p)]
        if not alive:
            return time.monotonic() - start
        time.sleep(0.02)
    raise AssertionError(f"processes still alive after {timeout} s: {alive}")


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.fixture
def launched() -> Iterator[list[LaunchedRun]]:
    """Launched runs, killed at the end of the test whatever happened."""
    runs: list[LaunchedRun] = []
    yield runs
    for run in runs:
        run.kill()
        for pid in run.pids.values():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def idle_topology(path: Path, names: tuple[str, ...] = ("a", "b", "c"), liveness: float = 3.0) -> Path:
    """A chain of idle actors: a run that goes on until stopped."""
    lines = [f"name = \"idle\"\n[run]\nliveness = {liveness}\n"]
    for name in names:
        lines.append(f"[[actor]]\nname = \"{name}\"\nimpl = \"actors.examples.echo:Idle\"\n")
    for a, b in zip(names, names[1:]):
        lines.append(f"[[link]]\nbetween = [\"{a}\", \"{b}\"]\n")
    path.write_text("\n".join(lines))
    return path


# --- guests, QEMU and the cross toolchain ---------------------------------------

import shutil
import tomllib

GUESTS = REPO / "launch" / "guests"
MANIFEST = tomllib.loads((REPO / "guests" / "guests.toml").read_text())["guests"]
IN_CI = bool(os.environ.get("CI"))


def need_tool(name: str) -> str:
    """The path of a host tool the test needs. Missing: under CI that is a
    failure (CI installs it), elsewhere the test is skipped with the reason."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (Debian: see .ci/install)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


def need_host(present: bool, what: str) -> None:
    """A host capability the test needs (IPv6 loopback, immutable files).
    Missing: under CI a failure (the CI machine has it), elsewhere a skip
    saying why, as for a missing tool."""
    if not present:
        message = f"this host lacks {what}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


def build_guest(sources: list[Path], out: Path, defines: tuple[str, ...] = ()) -> Path:
    """Build a test guest from ``sources`` with the bundled guests' runtime
    and flags (guests/Makefile), and each of ``defines`` as a -D; the ELF's path."""
    gcc = need_tool("riscv64-unknown-elf-gcc")
    src = REPO / "guests"
    subprocess.run([gcc, *(f"-D{d}" for d in defines), "-march=rv32im", "-misa-spec=2.2", "-mabi=ilp32", "-O2",
                    "-ffreestanding", "-nostdlib",
                    f"-I{src}", "-T", str(src / "link.ld"), "-Wl,--no-warn-rwx-segments", "-o", str(out),
                    str(src / "start.S"), str(src / "rt.c"), *map(str, sources), "-lgcc"],
                   check=True, capture_output=True, cwd=src)
    return out


EXITWRITE_LBA = 16
EXITWRITE_DATA = bytes((i * 7 + 1) & 0xFF for i in range(65536))
"""What tests/guests/exitwrite.c writes by DMA to disk 0, and from which sector."""


def build_exitwrite(folder: Path, spin: bool = False) -> Path:
    """tests/guests/exitwrite.c (``spin``: built to spin after starting its write, not exit)."""
    return build_guest([REPO / "tests" / "guests" / "exitwrite.c", REPO / "guests" / "ata.c"],
                       folder / ("spinwrite.elf" if spin else "exitwrite.elf"), defines=("SPIN",) if spin else ())


def run_qemu(elf: Path) -> subprocess.CompletedProcess[bytes]:
    """``elf`` on QEMU's virt machine, the differential oracle."""
    qemu = need_tool("qemu-system-riscv32")
    return subprocess.run([qemu, "-machine", "virt", "-bios", "none", "-kernel", str(elf), "-nographic",
                           "-monitor", "none"], capture_output=True, timeout=120, stdin=subprocess.DEVNULL, check=False)


def run_machine(name: str, limit: int | None = None, ram_mib: int = 16):
    """Run a bundled guest in this process; (machine, outcome, console bytes)."""
    from actors.cpu import Machine, parse

    console = bytearray()
    machine = Machine(ram_mib << 20, console.append)
    machine.load(parse((GUESTS / f"{name}.elf").read_bytes(), name))
    outcome = machine.run(limit)
    return machine, outcome, bytes(console)
