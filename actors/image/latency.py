"""Seeded, reproducible completion latency for a disk backend.

A spec is ``none``, ``fixed:DUR``, ``uniform:MIN:MAX`` or ``exp:MEAN``, with
durations like ``200us``, ``1.5ms`` or ``0.01s`` (a bare number is seconds). The delay of each request
is drawn, in arrival order, from ``random.Random(seed)``: the same seed and
the same requests give the same delays.
"""

from __future__ import annotations

import random
import re

_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}


MAX_SECONDS = 60.0
"""The longest completion latency a disk may be given."""


class LatencyError(ValueError):
    pass


def duration(text: str) -> float:
    m = re.fullmatch(r"([0-9]*\.?[0-9]+)(s|ms|us|ns)?", text.strip())
    if not m:
        raise LatencyError(f"{text!r} is not a duration (like 200us, 1.5ms, 0.01s)")
    seconds = float(m.group(1)) * _UNITS[m.group(2) or "s"]
    if seconds > MAX_SECONDS:
        raise LatencyError(f"{text!r}: at most {MAX_SECONDS:g} s (a disk that slow is one that hangs: see the hang fault)")
    return seconds


class Latency:
    """Draws one delay (seconds) per request."""

    def __init__(self, spec: str = "none", seed: int = 0) -> None:
        try:
            self._parse(spec, seed)
        except LatencyError as e:
            raise LatencyError(f"latency {spec!r}: {e}") from None  # (a bad duration alone would not say where it is)

    def _parse(self, spec: str, seed: int) -> None:
        self.spec = spec
        self.rng = random.Random(seed)
        kind, _, rest = spec.partition(":")
        args = rest.split(":") if rest else []
        if kind == "none" and not args:
            self.draw = lambda: 0.0
        elif kind == "fixed" and len(args) == 1:
            value = duration(args[0])
            self.draw = lambda: value
        elif kind == "uniform" and len(args) == 2:
            low, high = duration(args[0]), duration(args[1])
            if high < low:
                raise LatencyError("the maximum is below the minimum")
            self.draw = lambda: self.rng.uniform(low, high)
        elif kind == "exp" and len(args) == 1:
            mean = duration(args[0])
            self.draw = lambda: self.rng.expovariate(1 / mean) if mean > 0 else 0.0
        else:
            raise LatencyError("expected none, fixed:DUR, uniform:MIN:MAX or exp:MEAN")

    @property
    def zero(self) -> bool:
        return self.spec == "none"
