"""The ``reel`` command line itself."""

from __future__ import annotations

import json

import pytest

from actors import VERSION

from .conftest import run_reel


def test_help_lists_commands_and_exit_codes() -> None:
    result = run_reel("--help")
    assert result.returncode == 0
    for word in ("launch", "bench", "exit codes", "-v", "-q"):
        assert word in result.stdout


def test_version() -> None:
    result = run_reel("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"reel {VERSION}"


def test_no_command_is_a_usage_error() -> None:
    assert run_reel().returncode == 2


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
    ("--poll-every", "0", "poll_every: Expected `int` >= 1"),  # would look at the inbox never and spin
    ("--max-instructions", "-1", "max_instructions: Expected `int` >= 0"),
    ("--ram", "0", "ram_mib: Expected `int` >= 1"),
    ("--ram", "100000", "ram_mib: Expected `int` <= 2048"),  # RAM ends at the top of the 32-bit space
])
def test_run_refuses_numbers_out_of_range(flag: str, value: str, says: str) -> None:
    result = run_reel("run", "hello", flag, value, timeout=30)
    assert result.returncode == 2 and says in result.stderr, result.stderr
