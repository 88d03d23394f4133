"""``reel faults``: the campaign runs every fault kind, checks its declared
outcome and the replay, and finds orphans; and it can tell when a run does
not do what its kind declares."""

from __future__ import annotations

import json

import pytest

from launch import campaign

from .conftest import run_reel


def test_a_short_campaign_over_every_fault_kind_is_as_expected() -> None:
    runs = 6 * len(campaign.KINDS)  # at least 50: six seeds per kind
    result = run_reel("faults", "--runs", str(runs), "--jobs", "2", "--json", timeout=1800)
    assert result.returncode == 0, result.stdout + result.stderr[-4000:]
    table = json.loads(result.stdout)
    assert table["all_as_expected"] is True
    rows = {row["kind"]: row for row in table["rows"]}
    assert set(rows) == {kind.name for kind in campaign.KINDS}
    for kind, row in rows.items():
        assert row["runs"] == 6, kind
        assert row["outcome_as_expected"] == row["replay_identical"] == 6, (kind, row)
        assert row["orphans_left"] == 0, (kind, row)


def test_the_campaign_sees_a_run_that_misbehaves() -> None:
    # A disk error declared harmless: the guest reports the failure and
    # exits 3, so the recording is not what the kind claims.
    wrong = campaign.FaultKind("mislabelled", lambda s: f"disk{s % 2}:error:request={1 + s}", "completes")
    rows = campaign.campaign(2, 2, None, (wrong,))
    assert not campaign.all_well(rows)
    assert rows[0].runs == 2 and rows[0].expected == 0 and rows[0].orphans == 0


def test_unknown_fault_kinds_and_bad_counts_are_refused() -> None:
    for args in (["--kinds", "meteor"], ["--kinds", ","], ["--kinds", " "], ["--kinds", ""], ["--runs", "0"],
                 ["--jobs", "0"]):
        result = run_reel("faults", *args)
        assert result.returncode == 2, args
        assert "reel faults:" in result.stderr
    # fewer runs than kinds: some kind would never run (it was skipped in silence)
    result = run_reel("faults", "--runs", "2", "--kinds", "crash,hang,garbage")
    assert result.returncode == 2
    assert "--runs 2 is fewer than the 3 kinds asked for: garbage would never run" in result.stderr


def test_ctrl_c_ends_a_campaign_without_running_what_is_queued(tmp_path) -> None:
    import signal
    import subprocess
    import time

    from .conftest import REPO, _env, reel_command

    env = {**_env(), "TMPDIR": str(tmp_path)}
    proc = subprocess.Popen(reel_command("faults", "--runs", "40", "--jobs", "1", "--kinds", "delay"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=env)
    time.sleep(4)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and err.rstrip().endswith("reel: interrupted"), err
    assert time.monotonic() - sent < 10  # the run in progress is stopped too; the other thirty-odd never start
    assert not list(tmp_path.glob("reel-faults-*"))


def test_no_reel_starts_once_the_campaign_is_interrupted(tmp_path, monkeypatch) -> None:
    """Interrupted, a run whose record was stopped went on to start its
    replay (the log was there), and the campaign waited for it: up to a
    run's time-out per job after a Ctrl-C."""
    started = []
    monkeypatch.setattr(campaign.subprocess, "Popen", lambda *args, **kwargs: started.append(args))
    try:
        campaign._interrupt_running()
        with pytest.raises(campaign.Interrupted):
            campaign._reel(["-q", "replay", str(tmp_path / "run.reel")], "tag", str(tmp_path))
    finally:
        campaign._interrupted.clear()
    assert started == []


def test_a_leftover_holding_a_runs_output_is_killed_not_waited_for(monkeypatch) -> None:
    """A process the run left behind (none should) kept its output open:
    the campaign waited on it past the run's time-out, deaf to SIGTERM."""
    import os
    import subprocess
    import time

    monkeypatch.setattr(campaign, "LEFTOVER_GRACE", 0.5)
    tag = "leftover-test"
    proc = subprocess.Popen(["sh", "-c", "sleep 300 & echo started"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ, **{campaign.TAG: tag}))
    began = time.monotonic()
    with proc:
        done = campaign._outcome(proc, tag, began + 60)
    assert time.monotonic() - began < 10
    assert done.returncode == 0 and done.stdout == "started\n", done
    assert "1 leftover process(es) held its output after it ended; killed" in done.stderr, done


def test_a_run_past_its_time_out_is_killed_once_and_counts_as_timed_out() -> None:
    import subprocess
    import time

    proc = subprocess.Popen(["sleep", "30"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    began = time.monotonic()
    with proc:
        done = campaign._outcome(proc, "timeout-test", began + 0.5)
    assert time.monotonic() - began < 10
    assert done.returncode == -1 and done.stderr == "\n(timed out)", done
