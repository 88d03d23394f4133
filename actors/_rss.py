"""A process's peak resident set, as the kernel counts it."""

from __future__ import annotations


def peak_rss_mib(pid: int | str = "self") -> float | None:
    """The peak resident set of process ``pid`` (RAM, code, caches and all)
    in MiB, from its VmHWM; None where /proc does not say (not Linux, or
    the process is gone).

    Not ``ru_maxrss``: that keeps the high-water mark of the image that
    exec replaced, so a process spawned by a large parent reports the
    parent's size."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return None
