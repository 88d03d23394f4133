"""How a blocking actor waits for its next frame: briefly awake, then asleep.

Measured here (a 2-core VM): a process asleep in its receive notices a
frame tens of microseconds after its ZeroMQ I/O thread has it, as the idle
core is woken through the hypervisor; the transport benchmark's round trip
took 172-177 us so, against 97-110 us for the same exchange with both ends
waiting awake. So a waiting actor first stays awake for up to ``spin``
seconds, asking the socket whether a frame is in and yielding the core
between two questions (the I/O thread that delivers the frame runs on the
same core, and any other actor placed there goes first too); only then does
it sleep in the receive.

It stays awake only while busy, and only while staying awake pays:
* when no frame came in the last ``BUSY_SECONDS``, it sleeps at once, so an
  idle actor costs no CPU;
* when a wait awake ends with no frame (the peer is slow), or as soon as a
  yield shows that other work wants the core (a loaded host: waiting awake
  would only take CPU from others, and a yield to a busy task costs a whole
  time slice), the next 1, 2, 4 ... up to ``MAX_BACKOFF`` waits sleep at
  once; a wait awake that sees its frame resets that.
Waiting awake changes when a frame is seen, never what is in it nor in what
order: it is invisible to the guest and to the digests.
"""

from __future__ import annotations

import os
import time
from typing import Any, Callable

import zmq

BUSY_SECONDS = 0.005
"""An actor that took a frame this recently is busy: it waits awake."""

CONTENDED_SECONDS = 0.0002
"""A yield that kept the core away this long means other work wants it (our
own I/O thread takes tens of microseconds): the wait goes to sleep and
counts as wasted. Measured with two CPU hogs running: waiting awake
regardless made a direct run of diskqd1 take 6.5 s against 2.5 s asleep."""

MAX_BACKOFF = 1024
"""At most this many waits in a row sleep at once after a wasted wait awake."""

MAX_SPIN_SECONDS = 0.1
"""The longest a topology may ask an actor to wait awake each time."""


class Spinner:
    """Waits awake on ``sock`` for up to ``spin`` seconds while it is busy
    and waiting awake pays."""

    __slots__ = ("_events", "spin", "last_frame", "_skip", "_backoff")

    def __init__(self, sock: zmq.Socket, spin: float) -> None:
        if not 0 <= spin <= MAX_SPIN_SECONDS:
            raise ValueError(f"spin {spin:g} s: must be within 0..{MAX_SPIN_SECONDS:g} s")
        self._events = sock.get
        self.spin = spin
        self.last_frame = 0.0  # perf_counter when the last frame was taken
        self._skip = 0  # waits left that sleep at once
        self._backoff = 1  # how many the next wasted wait awake makes

    def until_frame_or_idle(self) -> None:
        """Return once a frame is in or the spin is over; at once when idle
        or backing off."""
        now = time.perf_counter()
        if now - self.last_frame > BUSY_SECONDS:
            return
        if self._skip:
            self._skip -= 1
            return
        if wait_awake(self._events, now + self.spin):
            self._backoff = 1
        else:
            self._skip, self._backoff = self._backoff, min(2 * self._backoff, MAX_BACKOFF)


# Plain ints: zmq.POLLIN is an enum.IntFlag, and ``int & IntFlag`` builds a
# flag object in Python on every question (measured: 4.0 us a question
# against 2.7 us, most of it the socket's own answer).
_EVENTS, _POLLIN = int(zmq.EVENTS), int(zmq.POLLIN)


def wait_awake(events: Callable[[int], Any], end: float) -> bool:
    """Until ``end`` (a perf_counter time) or a frame is in (``events``: a
    socket's ``get``), yielding the core between two questions. True when a
    frame is in."""
    clock, yield_core = time.perf_counter, os.sched_yield
    while not events(_EVENTS) & _POLLIN:
        before = clock()
        if before >= end:
            return False
        yield_core()
        if clock() - before > CONTENDED_SECONDS:
            return False  # another task wanted this core for a while: stay out of its way
    return True
