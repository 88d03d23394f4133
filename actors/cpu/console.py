"""The guest's console output on its way to this process's stdout (or stderr).

Whoever reads the console (a terminal, ``less``, a pipe into another
program) may be slow or may go away; the cpu must not stop answering its
peers meanwhile, or the run is taken for hung, nor die of a closed pipe. So
output is written only as far as the stream takes it without waiting
(``drain``); what it does not take waits here, and the cpu waits for the
stream only where it may serve its inbox meanwhile (``drain_all``, given
the function that serves it). A stream that is closed drops what comes
after it, with one warning: the run, and a recording, go on; a stream that
fails otherwise (a full disk, an I/O error) does the same, and ``error``
says why, for the run to end saying its output was lost.

Invariant: ``pending`` holds, in order, every byte the guest wrote that the
stream has not taken, unless the stream was found closed.
"""

from __future__ import annotations

import errno
import os
import select
import time
from typing import Callable

CHUNK = 4096
"""Bytes written at a time: a pipe that polls writable takes this many without blocking."""

BACKLOG_LIMIT = 1 << 20
"""Output waiting past this, the cpu waits for the stream at its next poll."""


class Console:
    def __init__(self, fd: int | None, warn: Callable[[str], None]) -> None:
        self.fd = fd  # None: output is not wanted
        self.warn = warn
        self.pending = bytearray()
        self.error = ""  # why the stream failed, unless its reader merely went away

    def put(self, byte: int) -> None:
        """The guest wrote ``byte``; a line (or a full chunk) goes out at once."""
        if self.fd is None:
            return
        self.pending.append(byte)
        if byte == 0x0A or len(self.pending) >= CHUNK:
            self.drain()

    @property
    def backlog(self) -> int:
        return len(self.pending)

    def drain(self) -> None:
        """Write what the stream takes now, without waiting."""
        while self.pending and self._writable(0):
            self._write()

    def drain_all(self, serve: Callable[[], None], deadline: float | None = None) -> None:
        """Write everything, calling ``serve`` while the stream is not ready
        (so heartbeats flow); give up at ``deadline`` (time.monotonic())."""
        while self.pending:
            self.drain()
            if not self.pending or (deadline is not None and time.monotonic() >= deadline):
                return
            serve()
            self._writable(0.05)

    def _writable(self, timeout: float) -> bool:
        assert self.fd is not None
        try:
            return bool(select.select([], [self.fd], [], timeout)[1])
        except (OSError, ValueError):
            return True  # let the write say what is wrong

    def _write(self) -> None:
        assert self.fd is not None
        try:
            written = os.write(self.fd, self.pending[:CHUNK])
        except BlockingIOError:
            return
        except OSError as e:
            self._closed(e)
            return
        del self.pending[:written]

    def _closed(self, e: OSError) -> None:
        reason = "its reader went away" if e.errno == errno.EPIPE else e.strerror or str(e)
        if e.errno != errno.EPIPE:
            self.error = reason
        self.warn(f"the console cannot be written ({reason}): guest output is dropped from here on; the run goes on")
        self.fd = None
        self.pending.clear()
