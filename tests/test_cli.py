"""The ``reel`` command line itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from actors import VERSION

from .conftest import REPO, _env, reel_command, run_reel


def test_help_lists_commands_and_exit_codes() -> None:
    result = run_reel("--help")
    assert result.returncode == 0
    for word in ("launch", "bench", "exit codes", "-v", "-q"):
        assert word in result.stdout


def test_version() -> None:
    result = run_reel("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"reel {VERSION}"


def test_no_command_is_a_usage_error() -> None:
    result = run_reel()
    assert result.returncode == 2
    assert result.stdout == "" and "usage: reel" in result.stderr  # a usage error's help is not output


def test_a_disk_guest_run_without_disks_is_told_why_it_faulted() -> None:
    """The guest's own trap handler says only "unexpected trap ... mtval
    0x10001006"; the run says that the IDE window is there only with disks."""
    result = run_reel("run", "disktest")
    assert result.returncode == 255, result.stderr
    assert ("WARNING the guest accessed the IDE controller's window (first at 0x10001006), but this machine has no "
            "disks, so it faulted: run it with disks (reel run disktest --disk memory:8M ...)") in result.stderr
    hello = run_reel("run", "hello")
    assert hello.returncode == 0 and "IDE" not in hello.stderr


def test_launch_the_bundled_chain() -> None:
    result = run_reel("launch", "chain")
    assert result.returncode == 0, result.stderr
    assert "reel: run 'chain' succeeded" in result.stdout
    assert "10000 items (100 as bulk frames) arrived in order, intact" in result.stdout


def test_launch_json_result() -> None:
    result = run_reel("-q", "launch", "chain", "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["code"] == 0 and out["finished_by"] == "sink"
    assert set(out["stats"]) == {"source", "relay", "sink"}


@pytest.mark.parametrize("flag, value, says", [
    # said against the option (it named the cpu's parameter in the topology)
    ("--poll-every", "0", "argument --poll-every: 0: must be at least 1"),  # would look at the inbox never and spin
    ("--max-instructions", "-1", "argument --max-instructions: -1: must be at least 0"),
    ("--ram", "0", "argument --ram: 0: must be within 1..2048 (MiB)"),
    ("--ram", "100000", "argument --ram: 100000: must be within 1..2048 (MiB)"),  # RAM ends at 2^32
    # only ASCII digits: int() and float() also took these, which no one means
    ("--seed", "1_000", "argument --seed: '1_000' is not a whole number"),
    ("--seed", "\u0663", "argument --seed: '\u0663' is not a whole number"),  # an Arabic-Indic 3
    ("--seed", " 5", "argument --seed: ' 5' is not a whole number"),
    ("--ram", "1_6", "argument --ram: '1_6' is not a whole number of MiB"),
    ("--liveness", "1_0", "argument --liveness: '1_0' is not a number of seconds"),
])
def test_run_refuses_numbers_out_of_range(flag: str, value: str, says: str) -> None:
    result = run_reel("run", "hello", flag, value, timeout=30)
    assert result.returncode == 2 and says in result.stderr, result.stderr


@pytest.mark.parametrize("spec, says", [
    ("bogus", "reel: --latency 'bogus': expected none, fixed:DUR, uniform:MIN:MAX or exp:MEAN"),
    ("fixed:abc", "reel: --latency 'fixed:abc': 'abc' is not a duration"),  # said the duration alone, nothing more
    ("uniform:5ms:1ms", "reel: --latency 'uniform:5ms:1ms': the maximum is below the minimum"),
])
def test_a_bad_latency_is_said_against_the_option(spec: str, says: str) -> None:
    result = run_reel("run", "hello", "--latency", spec, timeout=30)
    assert result.returncode == 2 and says in result.stderr, result.stderr


def test_mkdisk_does_not_offer_force_where_it_would_not_help(tmp_path) -> None:
    (tmp_path / "folder").mkdir()
    for path in (str(tmp_path / "folder"), "/dev/null"):
        result = run_reel("mkdisk", path, "1M", timeout=30)
        assert result.returncode == 2, result.stderr
        assert f"reel: {path}: exists and is not a regular file; not replaced" in result.stderr, result.stderr


def test_a_developer_folder_that_is_a_file_is_refused_before_the_run(tmp_path) -> None:
    """REEL_TRACE_DIR naming a file: each actor said so as it ended, in the
    run's last lines, and the run exited 0 with no trace."""
    (tmp_path / "file").write_text("")
    for variable in ("REEL_TRACE_DIR", "REEL_PROFILE_DIR"):
        result = subprocess.run(reel_command("run", "hello"), capture_output=True, text=True, timeout=30,
                                env={**_env(), variable: str(tmp_path / "file")})
        assert result.returncode == 2 and result.stdout == "", result.stdout + result.stderr
        assert f"reel: {variable}={tmp_path / 'file'}: is not a folder" in result.stderr, result.stderr


def test_record_needs_a_log_name(tmp_path) -> None:
    assert run_reel("mkdisk", str(tmp_path / "a.img"), "1M").returncode == 0
    result = run_reel("record", "hello", "--disk", str(tmp_path / "a.img"), "--log", "")
    assert result.returncode == 2 and "reel: --log names no file (an empty path)" in result.stderr, result.stderr


def test_record_keeps_an_existing_log_and_needs_its_folder(tmp_path) -> None:
    disks = []
    for name in ("a.img", "b.img"):
        assert run_reel("mkdisk", str(tmp_path / name), "8M").returncode == 0
        disks += ["--disk", str(tmp_path / name)]
    log = tmp_path / "run.reel"
    log.write_bytes(b"an earlier recording")
    result = run_reel("record", "journal", *disks, "--log", str(log))
    assert result.returncode == 2 and "already exists (use --force to replace it)" in result.stderr
    assert log.read_bytes() == b"an earlier recording"
    result = run_reel("record", "journal", *disks, "--log", str(tmp_path / "nowhere" / "run.reel"))
    assert result.returncode == 2 and f"no such directory {tmp_path / 'nowhere'}" in result.stderr
    before = (tmp_path / "b.img").stat()
    result = run_reel("record", "journal", *disks, "--log", str(tmp_path / "b.img"), "--force")
    assert result.returncode == 2 and "is one of the base disks" in result.stderr
    assert (tmp_path / "b.img").stat().st_size == before.st_size == 8 << 20


def test_record_refuses_a_log_that_is_not_a_file_saying_so(tmp_path) -> None:
    """--log /dev/stdout into a pipe ended in '[Errno 2] No such file or
    directory: /proc/<pid>/fd/pipe:[...]'; a pipe, a terminal or a device is
    now refused as what it is (a recording's log is sealed as it grows and
    read back: it needs a file)."""
    assert run_reel("mkdisk", str(tmp_path / "a.img"), "1M").returncode == 0
    os.mkfifo(tmp_path / "fifo")
    for log in (str(tmp_path / "fifo"), "/dev/null", "/dev/stdout"):  # (stdout: run_reel's pipe)
        result = run_reel("record", "hello", "--disk", str(tmp_path / "a.img"), "--log", log, "--force")
        assert result.returncode == 2, (log, result.stderr)
        assert f"reel: {log}: is not a regular file (a pipe, a terminal or a device)" in result.stderr, result.stderr


def test_run_refuses_one_image_attached_twice(tmp_path) -> None:
    image = tmp_path / "a.img"
    assert run_reel("mkdisk", str(image), "8M").returncode == 0
    (tmp_path / "link.img").symlink_to(image)
    result = run_reel("run", "disktest", "--disk", str(image), "--disk", str(tmp_path / "link.img"))
    assert result.returncode == 2 and "attached twice (disks 0 and 1)" in result.stderr, result.stderr


@pytest.mark.parametrize("args, says", [
    (["--seed", str(1 << 64)], f"--seed {1 << 64}: too large"),
    (["--max-instructions", str(10 ** 20)], f"--max-instructions {10 ** 20}: too large"),
    (["--fault", "actor:cpu:garbage:count=1000000"], "count must be at most 10000"),  # pushing them blocked
    (["--fault", f"disk0:error:lba={10 ** 30}"], f"lba {10 ** 30} is too large"),
    (["--fault", "disk0:full:bytes=99999999999999999999T"], "is too large"),
])
def test_numbers_a_message_cannot_carry_are_refused_naming_them(args: list[str], says: str) -> None:
    result = run_reel("run", "disktest", "--disk", "memory:8M", "--disk", "memory:8M", *args)
    assert result.returncode == 2 and says in result.stderr and "Traceback" not in result.stderr, result.stderr


def test_an_output_that_cannot_be_written_is_said_in_one_line(tmp_path: Path) -> None:
    """reel inspect > /dev/full (a full disk): a traceback before; now a
    line saying so, and exit 74. A closed pipe stays no error."""
    import random

    from actors.logger.logfile import write_log

    from .conftest import REPO, _env, reel_command
    from .test_logfile import header, synthetic_records

    log = tmp_path / "some.reel"
    write_log(str(log), header(4), synthetic_records(random.Random(1), 3, 4))
    for extra in ([], ["--json"]):
        with open("/dev/full", "w") as full:
            result = subprocess.run(reel_command("inspect", str(log), *extra), stdout=full, stderr=subprocess.PIPE,
                                    text=True, cwd=REPO, env=_env(), timeout=60, check=False)
        assert result.returncode == 74, result.stderr
        assert result.stderr == "reel: cannot write its output: No space left on device\n"


def test_memory_disks_must_fit_in_the_host_together(tmp_path: Path) -> None:
    """Each fit alone, so each disk actor started and ended in a MemoryError
    traceback; so did a recording's memory bases (after reading them whole)."""
    from launch.disks import _host_memory

    half = (_host_memory() // 2 // 512 + 8) * 512  # two of them: more than the host has
    result = run_reel("run", "disktest", "--disk", f"memory:{half}", "--disk", f"memory:{half}", timeout=60)
    assert result.returncode == 2 and "the memory disks need" in result.stderr and "Traceback" not in result.stderr
    bases = []
    for name in ("a.img", "b.img"):
        with open(tmp_path / name, "wb") as f:
            f.truncate(half)  # sparse: nothing is written
        bases += ["--disk", str(tmp_path / name)]
    result = run_reel("record", "journal", *bases, "--log", str(tmp_path / "r.reel"), "--backend", "memory",
                      timeout=60)
    assert result.returncode == 2 and "the memory disks need" in result.stderr, result.stderr


# A Ctrl-C delivered while the named module is being imported, then reel's
# entry point run with the arguments that follow: deterministic, where a
# timed signal would hit the imports only on some machines.
_CTRL_C_DURING_IMPORT = """
import importlib.abc, os, signal, sys
target = sys.argv.pop(1)
class CtrlC(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target_=None):
        if name == target:
            sys.meta_path.remove(self)
            os.kill(os.getpid(), signal.SIGINT)
        return None
sys.meta_path.insert(0, CtrlC())
from launch._entry import main
sys.exit(main())
"""


def _ctrl_c_during_import(module: str, *args: str, prelude: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", prelude + _CTRL_C_DURING_IMPORT, module, *args], capture_output=True,
                          text=True, timeout=60, cwd=REPO, env=_env())


@pytest.mark.parametrize("module, args", [
    ("launch.launcher", ["run", "hello"]),  # while the command line's modules load
    ("launch.machines", ["run", "hello"]),  # while a command loads what it needs, before any actor exists
])
def test_a_ctrl_c_before_the_run_starts_is_answered_without_a_traceback(module: str, args: list[str]) -> None:
    result = _ctrl_c_during_import(module, *args)
    assert (result.returncode, result.stdout) == (130, ""), result.stdout + result.stderr
    assert result.stderr == "reel: interrupted\n"


def test_a_ctrl_c_ignored_by_whoever_started_reel_stays_ignored() -> None:
    """As under nohup: reel runs on (the command line keeps an ignored SIGINT ignored too)."""
    result = _ctrl_c_during_import("launch.launcher", "run", "hello",
                                   prelude="import signal; signal.signal(signal.SIGINT, signal.SIG_IGN)\n")
    assert (result.returncode, result.stdout) == (0, "hello from reel\n"), result.stdout + result.stderr


_CTRL_C_DURING_CLEANUP = """
import os, signal, subprocess, sys
from launch import _leftovers, cli
leftover = subprocess.Popen(["sleep", "60"])  # a child the command leaves behind
real, asked = _leftovers.children, []
def children(pid=None):
    if not asked:
        os.kill(os.getpid(), signal.SIGINT)  # a second Ctrl-C, as the cleanup starts
    asked.append(pid)
    return real(pid)
_leftovers.children = children
try:
    code = cli.main(["mkdisk", sys.argv[1], "1M"])
except KeyboardInterrupt:
    code = "KeyboardInterrupt"
try:
    os.kill(leftover.pid, 0)
    alive = leftover.poll() is None
except ProcessLookupError:
    alive = False
print(code, "left behind" if alive else "killed")
if alive:
    leftover.kill()
"""


def test_a_ctrl_c_during_the_final_cleanup_does_not_leave_children_behind(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-c", _CTRL_C_DURING_CLEANUP, str(tmp_path / "d.img")],
                            capture_output=True, text=True, timeout=60, cwd=REPO, env=_env())
    assert result.stdout.splitlines()[-1] == "0 killed", result.stdout + result.stderr  # (after mkdisk's line)


@pytest.mark.parametrize("closed", [0, 1])
def test_a_closed_standard_stream_is_no_failure(closed: int) -> None:
    """``reel run hello >&-``: the actors had no sys.stdout and ended in
    tracebacks, as did reel's own output (exit 1); now what would have gone
    there is dropped, as for a reader that went away. Likewise ``<&-``."""
    result = subprocess.run(reel_command("run", "hello"), stdout=None if closed == 1 else subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=REPO, env=_env(), timeout=60, check=False,
                            preexec_fn=lambda: os.close(closed))
    assert result.returncode == 0 and result.stderr == "", result.stderr
    if closed == 0:
        assert result.stdout == "hello from reel\n"


def test_a_file_name_that_is_not_utf8_is_refused_naming_it(tmp_path: Path) -> None:
    """Such a name reached the actors' specs, which msgpack could not
    encode: a traceback, exit 1."""
    name = os.fsdecode(bytes(tmp_path) + b"/d\xff.img")
    with open(name, "wb") as f:
        f.truncate(1 << 20)
    for args in (["run", "hello", "--disk", name], ["record", "hello", "--disk", name, "--log", str(tmp_path / "r")]):
        result = subprocess.run(reel_command(*args), capture_output=True, cwd=REPO, env=_env(), timeout=60,
                                check=False)
        assert result.returncode == 2, result.stderr
        assert result.stderr.endswith(b"d\\xff.img': not UTF-8 text; reel's actors take file names as UTF-8 "
                                      b"(rename the file, or link it under a UTF-8 name)\n"), result.stderr


def test_a_number_too_small_to_carry_says_so() -> None:
    result = run_reel("run", "hello", "--seed", str(-(1 << 63) - 1))
    assert result.returncode == 2 and result.stderr == (
        f"reel: --seed {-(1 << 63) - 1}: too small (at least {-(1 << 63)})\n"), result.stderr
