"""Hypervisor steal time over a stretch of a benchmark.

On a virtual machine the host may run something else on our virtual cores;
the guest kernel counts that time as "steal" (the eighth figure of the
``cpu`` line of ``/proc/stat``). A round measured while a quarter of the
machine was stolen says more about the host than about reel, so the
benchmarks report it beside their figures.
"""

from __future__ import annotations

STAT = "/proc/stat"


def _ticks() -> tuple[int, int] | None:
    """(steal, total) clock ticks of all cores since boot; None where the
    kernel does not say (not Linux, or too old to count steal)."""
    try:
        with open(STAT) as f:
            fields = f.readline().split()
    except OSError:
        return None
    if len(fields) < 9 or fields[0] != "cpu":
        return None
    counts = [int(x) for x in fields[1:]]
    return counts[7], sum(counts)


class Steal:
    """Percent of all cores' time stolen between construction and ``pct()``.

    Invariant: ``pct()`` reads 0..100, or None where /proc/stat has no
    steal figure; over a stretch too short to tick it reads 0."""

    def __init__(self) -> None:
        self._start = _ticks()

    def pct(self) -> float | None:
        end = _ticks()
        if self._start is None or end is None:
            return None
        total = end[1] - self._start[1]
        return 100.0 * (end[0] - self._start[0]) / total if total > 0 else 0.0
