"""``actors._spin``: when a blocking actor waits awake, and when it stops."""

from __future__ import annotations

import time

import pytest
import zmq

from actors._spin import BUSY_SECONDS, MAX_BACKOFF, Spinner, wait_awake


@pytest.fixture
def pair():
    ctx = zmq.Context()
    inbox, out = ctx.socket(zmq.PULL), ctx.socket(zmq.PUSH)
    port = inbox.bind_to_random_port("tcp://127.0.0.1")
    out.connect(f"tcp://127.0.0.1:{port}")
    yield inbox, out
    inbox.close(0)
    out.close(0)
    ctx.term()


def test_a_frame_already_in_ends_the_wait_at_once(pair) -> None:
    inbox, out = pair
    out.send(b"x")
    assert inbox.poll(5000)  # in (a wait awake may end early on a loaded host: it yields to others)
    began = time.perf_counter()
    assert wait_awake(inbox.get, began + 5)
    assert time.perf_counter() - began < 1
    assert inbox.recv() == b"x"


def test_with_no_frame_the_wait_ends_at_its_deadline(pair) -> None:
    inbox, _ = pair
    began = time.perf_counter()
    assert not wait_awake(inbox.get, began + 0.002)
    assert time.perf_counter() - began < 1


def test_an_idle_actor_does_not_wait_awake(pair) -> None:
    inbox, _ = pair
    spinner = Spinner(inbox, 0.09)
    spinner.last_frame = time.perf_counter() - 2 * BUSY_SECONDS
    began = time.perf_counter()
    spinner.until_frame_or_idle()
    assert time.perf_counter() - began < 0.05  # it did not spend its 90 ms
    # Nor did it wait awake at all: a wait awake that saw no frame would
    # have started a back-off (on a loaded host such a wait also ends early,
    # so the time alone would not tell).
    assert (spinner._skip, spinner._backoff) == (0, 1)


def test_wasted_waits_back_off_and_a_frame_seen_resets(pair) -> None:
    inbox, out = pair
    spinner = Spinner(inbox, 0.001)
    backoffs = []
    for _ in range(12):
        spinner.last_frame = time.perf_counter()  # busy
        spinner.until_frame_or_idle()  # no frame comes: wasted, or skipped
        backoffs.append(spinner._backoff)
    assert backoffs[0] == 2 and max(backoffs) <= MAX_BACKOFF and backoffs == sorted(backoffs)
    skipped = spinner._skip
    spinner.until_frame_or_idle()
    assert spinner._skip == max(0, skipped - 1)  # a skipped wait sleeps at once
    spinner._skip = 0
    out.send(b"x")
    assert inbox.poll(5000)  # the frame is in before the wait begins
    spinner.last_frame = time.perf_counter()
    spinner.until_frame_or_idle()
    assert spinner._backoff == 1  # the frame was seen awake


def test_spin_out_of_bounds_is_refused(pair) -> None:
    inbox, _ = pair
    with pytest.raises(ValueError, match="must be within"):
        Spinner(inbox, 1.0)
