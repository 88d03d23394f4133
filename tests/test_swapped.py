"""Component swapping gone wrong: an actor swapped in that answers wrongly,
or not at all, ends the run naming itself and what it did; and the command
line's exit status and output stay true whatever becomes of its streams."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
from pathlib import Path

import pytest

from launch import ActorConfig, Launcher, RunResult, Topology
from launch.disks import Disk
from launch.machines import ide_direct

from .conftest import REPO, _env, reel_command, run_reel

DISKTEST = (REPO / "launch" / "guests" / "disktest.elf").read_bytes()


def _run(topology: Topology) -> RunResult:
    """The run, stopped as failed after 60 s (before the fixes, two of these
    runs never ended)."""
    with Launcher(topology, log_level=logging.ERROR) as launcher:
        if launcher.start():
            launcher.wait(60)
    return launcher.result()


def _disktest_with(impl: str, params: dict, liveness: float = 3.0) -> Topology:
    """disktest on two memory disks, disk0 (or the ide) swapped for ``impl``."""
    topology = ide_direct("disktest", DISKTEST, [Disk("memory", size=8 << 20)] * 2, console="none")
    topology.run.liveness = liveness
    swapped = params.pop("_swap", "disk0")
    for i, actor in enumerate(topology.actor):
        if actor.name == swapped:
            topology.actor[i] = ActorConfig(actor.name, impl, params)
    return topology


@pytest.mark.parametrize("mode,why", [
    ("wrong_id", "actor 'ide' failed: disk0 answered request 1001, which this ide never sent"),
    ("short", "actor 'ide' failed: disk0 answered read request "),
    ("status", "actor 'ide' failed: disk0 answered request 1 with status 1099511627776, which is neither 0 nor an "
               "errno value"),
    ("dma", "actor 'cpu' failed: 'disk0' sent DmaWrite, which only 'ide' (params.ide) sends to 'cpu': a protocol "
            "error of 'disk0'; not acted on"),
])
def test_a_disk_that_answers_wrongly_fails_the_run_naming_it(mode: str, why: str) -> None:
    """Before, the ide dropped an answer to a request it never sent (the
    guest then waited for ever, and nothing said why), and put half a
    read's data where the guest expected all of it."""
    result = _run(_disktest_with("tests.actors_for_tests:WrongDisk", {"backend": "memory", "size": 8 << 20,
                                                                      "mode": mode}))
    assert result.code == 70 and result.reason.startswith(why), result.reason
    if mode == "short":
        assert result.reason.endswith(" were asked"), result.reason


def test_a_disk_that_lives_on_but_never_answers_is_said_while_the_guest_waits(
        capfd: pytest.CaptureFixture[str]) -> None:
    """Its heartbeats keep it inside the liveness bound, and the guest polls
    on: before, nothing was said until the guest gave up minutes later."""
    topology = _disktest_with("tests.actors_for_tests:WrongDisk", {"backend": "memory", "size": 8 << 20,
                                                                   "mode": "mute"})
    topology.actor_named("ide").params["slow_disk_seconds"] = 1.0
    with Launcher(topology, log_level=logging.WARNING) as launcher:
        if launcher.start():
            launcher.wait(3.5)
    assert launcher.result().reason == "run did not end within 3.5 s"
    said = re.findall(r"\[ide\] WARNING disk0 has not answered write request (\d+) \(512 bytes\) for (\d+) s; the guest "
                      r"waits for it \(1 request\(s\) unanswered\)", capfd.readouterr().err)
    assert [int(seconds) for _, seconds in said][:2] == [1, 2], said


def test_an_ide_that_never_answers_a_register_read_fails_the_run_naming_it() -> None:
    """The cpu waited for the value for ever (until an outside time-out)."""
    result = _run(_disktest_with("tests.actors_for_tests:MuteIde", {"_swap": "ide"}, liveness=1.0))
    assert result.code == 70, result.reason
    assert result.reason == "actor 'cpu' failed: cpu: 'ide' sent no MmioValue for its MmioRead within 3 s", \
        result.reason


def test_an_actor_s_code_beyond_255_does_not_exit_0(tmp_path: Path) -> None:
    """The process status keeps 8 bits: an actor finishing with 256 made
    reel launch exit 0."""
    topology = tmp_path / "t.toml"
    topology.write_text('[[actor]]\nname = "a"\nimpl = "tests.actors_for_tests:CodeFinisher"\nparams = { code = 256 }\n')
    result = run_reel("launch", str(topology))
    assert result.returncode == 255 and "failed (exit 256)" in result.stderr, result.stderr


def test_a_console_that_cannot_be_written_is_exit_74() -> None:
    """The guest's console on a full disk: the run said so in a warning and
    exited 0; reel's own output failing exits 74."""
    with open("/dev/full", "w") as full:
        result = subprocess.run(reel_command("run", "hello"), stdout=full, stderr=subprocess.PIPE, text=True,
                                cwd=REPO, env=_env(), timeout=60)
    assert result.returncode == 74, result.stderr
    assert "reel: cannot write the guest's console (No space left on device)" in result.stderr, result.stderr


def test_a_stderr_whose_reader_left_does_not_turn_a_failure_into_success() -> None:
    """``reel run ... 2>&1 | head -1``: writing the run's failure line to a
    closed pipe raised BrokenPipeError, which the command line took for a
    stdout reader that left, and exited 0."""
    read, write = os.pipe()
    os.close(read)  # every write to stderr fails with EPIPE
    try:
        result = subprocess.run(reel_command("run", "hello", "--max-instructions", "10"), stdout=subprocess.PIPE,
                                stderr=write, cwd=REPO, env=_env(), timeout=60)
    finally:
        os.close(write)
    assert result.returncode == 124


def test_launch_json_is_the_only_thing_on_stdout(tmp_path: Path) -> None:
    """A guest's console (the cpu's default stream is stdout) came before the
    JSON, so the output was not JSON."""
    topology = tmp_path / "t.toml"
    topology.write_text(f'[[actor]]\nname = "cpu"\nimpl = "actors.cpu:Cpu"\n'
                        f'params = {{ elf_path = "{REPO / "launch" / "guests" / "hello.elf"}" }}\n')
    result = run_reel("launch", str(topology), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["code"] == 0
    assert "hello from reel" in result.stderr


def test_a_subclass_of_the_inline_image_refuses_a_latency_it_cannot_give() -> None:
    """Runs as itself (it was swapped for the stock Image, its code left out),
    so a latency it cannot serve is said, not dropped."""
    result = _run(Topology(actor=[ActorConfig("disk0", "tests.actors_for_tests:PlainInline",
                                              {"backend": "memory", "size": 4096, "latency": "fixed:1ms"})]))
    assert result.code == 70, result.reason
    assert ("disk disk0: PlainInline serves each request as it arrives and cannot delay it by latency 'fixed:1ms'"
            in result.reason), result.reason
