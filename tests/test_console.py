"""The guest's console on a slow or vanished reader: the run goes on, the
cpu keeps answering its peers, and nothing the reader takes is lost."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from .conftest import REPO, _env, build_guest, reel_command

LINES = 24000


@pytest.fixture(scope="module")
def chatter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("chatter")
    return build_guest([REPO / "tests" / "guests" / "chatter.c"], folder / "chatter.elf")


def test_a_reader_that_stalls_longer_than_the_liveness_bound_gets_everything(chatter: Path) -> None:
    proc = subprocess.Popen(reel_command("run", str(chatter)), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=REPO, env=_env())
    time.sleep(5)  # the pipe fills, and the cpu's 1 MiB of backlog: past the 3 s bound
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()
    lines = out.decode().splitlines()
    assert len(lines) == LINES and lines[-1].startswith(f"{LINES - 1:08x} ")
    assert [int(line[:8], 16) for line in lines] == list(range(LINES))


def test_a_reader_that_goes_away_leaves_the_run_to_finish(chatter: Path) -> None:
    proc = subprocess.Popen(reel_command("run", str(chatter)), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=REPO, env=_env())
    assert proc.stdout is not None and proc.stdout.readline().startswith(b"00000000 ")
    proc.stdout.close()  # as `reel run ... | head -1` does
    err = proc.stderr.read() if proc.stderr else b""
    assert proc.wait(timeout=120) == 0, err.decode()
    assert b"the console cannot be written (its reader went away)" in err and b"Traceback" not in err
