"""Starting actor processes on this host and keeping an eye on them."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import threading

import msgspec

from actors import ActorSpec

STDERR_TAIL = 20
"""Lines of an actor's stderr kept for the report when it dies."""


def child_env() -> dict[str, str]:
    """This process's environment for a Python child, which then imports
    what this process imports (tests' own actors too)."""
    return dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))


class ActorProcess:
    """One actor's OS process, its stderr forwarded line by line (and the
    last lines kept), its exit observed without blocking."""

    def __init__(self, spec: ActorSpec, *, forward_stderr: bool = True, stdout: int | None = None) -> None:
        self.name = spec.name
        encoded = msgspec.msgpack.encode(spec)  # before the process exists: a spec that cannot travel starts nothing
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "actors", "--run", spec.run_id, "--name", spec.name],
            stdin=subprocess.PIPE,
            stdout=stdout,
            stderr=subprocess.PIPE,
            env=child_env(),
            process_group=0,  # a terminal's Ctrl-C reaches the launcher alone
        )
        assert self.popen.stdin is not None
        self.pid = self.popen.pid
        self.tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL)
        self._forward = forward_stderr
        self._reader = threading.Thread(target=self._read_stderr, name=f"stderr-{self.name}", daemon=True)
        self._reader.start()
        try:
            self.popen.stdin.write(encoded)
            self.popen.stdin.close()
        except BrokenPipeError:
            pass  # it died at once; poll() will say how

    def _read_stderr(self) -> None:
        """Forward the actor's stderr line by line, and keep its last lines,
        until it closes. The pipe is drained whatever becomes of reel's own
        stderr (a reader that left, a full disk): an actor whose pipe filled
        would block on its next log line and be taken for hung."""
        assert self.popen.stderr is not None
        for raw in self.popen.stderr:
            line = raw.decode(errors="replace").rstrip("\n")
            self.tail.append(line)
            if self._forward:
                try:
                    sys.stderr.write(line + "\n")  # one write: lines from several actors do not splice
                    sys.stderr.flush()
                except (OSError, ValueError):
                    self._forward = False

    def poll(self) -> int | None:
        """The actor's exit status, None while it runs. As it is seen to
        have ended, whatever it left in its process group (a helper it
        started) is killed: no process outlives its actor."""
        if self.popen.returncode is None and self._state() == "ended":
            self._kill_group()
        return self.popen.poll()

    def _state(self) -> str:
        """"running", "ended" (not reaped yet) or "reaped". Only before it is
        reaped is the actor's pid, which is its group's id, surely its own;
        asked of the kernel, not inferred from Popen's returncode, which an
        interrupted poll can leave unset after reaping."""
        try:
            ended = os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return "reaped"
        return "running" if ended is None else "ended"

    def _kill_group(self) -> None:
        """SIGKILL to the actor's group; call it only while ``_state`` is not "reaped"."""
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass  # nothing left in the group

    def describe_exit(self) -> str:
        """"exited with code 3" / "was killed by SIGKILL"."""
        code = self.popen.returncode
        if code is None:
            return "is still running"
        if code < 0:
            try:
                return f"was killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"was killed by signal {-code}"
        return f"exited with code {code}"

    def last_lines(self) -> str:
        self._reader.join(timeout=0.5)  # let the last lines of a dead process arrive
        return "\n".join(f"    {line}" for line in self.tail) or "    (nothing on stderr)"

    def terminate(self) -> None:
        """SIGTERM to the actor (its own handler stops it in order), if it
        still runs; if it has ended, what it left in its group is killed."""
        if self.poll() is None:
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass  # ended just now: the next poll sees to its group

    def kill(self) -> None:
        """SIGKILL to the actor and everything in its process group."""
        if self.popen.returncode is None and self._state() != "reaped":
            self._kill_group()
        self.popen.wait()
