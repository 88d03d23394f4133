"""The reorder fault: completions from all the disks reach blkreplay in an
order other than the one they came in, as a host's block layer may
complete them.

An image actor serves one drive, and a drive has one command at a time,
so reordering only means something across drives: it is done here, where
the completions of every drive meet. The window holds completions as
they come and lets each group go in an order drawn from the plan's seed.
A group goes once it holds ``window`` completions, or once it holds every
request in flight at the disks: nothing else can come until the guest
sees one of them, so holding on would only stall the run.

Recording, the order a group goes in is what the queue (and so the log)
gets; replaying, the log says the order, and a reordered arrival is just
one more early or late completion.
"""

from __future__ import annotations

import random
from typing import Callable

import msgspec

from ..schema import BlockCompletion


class CompletionReorder(msgspec.Struct, forbid_unknown_fields=True):
    """Release the disks' completions in groups of up to ``window``, each
    group in an order drawn from ``seed``."""

    spec: str  # as the plan wrote it, for messages
    window: int
    seed: int = 0


class ReorderWindow:
    """Invariant: ``held`` are completions that came from the disks and
    that blkreplay has not seen yet, fewer than ``window`` of them."""

    def __init__(self, fault: CompletionReorder, note: Callable[[str], None],
                 struck: Callable[[str], None] = lambda spec: None) -> None:
        self.spec = fault.spec
        self.struck = struck  # told each time a group of two or more goes in a seeded order (its own, maybe)
        self.window = max(fault.window, 2)
        self.rng = random.Random(fault.seed)
        self.note = note
        self.held: list[BlockCompletion] = []
        self.groups = 0
        self.reordered = 0  # groups that went in another order than they came

    def holds(self, request_id: int) -> bool:
        return any(c.id == request_id for c in self.held)

    def take(self, completion: BlockCompletion, in_flight: int) -> list[BlockCompletion]:
        """Hold ``completion``; the group to let go now (maybe none).
        ``in_flight``: requests at the disks, ``completion``'s included."""
        self.held.append(completion)
        if len(self.held) < min(self.window, in_flight):
            return []
        group, self.held = self.held, []
        order = list(range(len(group)))
        self.rng.shuffle(order)
        self.groups += 1
        if len(group) > 1:
            self.struck(self.spec)
        if order != sorted(order):
            self.reordered += 1
            if self.reordered == 1:
                self.note(f"injected fault {self.spec}: completions of requests {[c.id for c in group]} "
                          f"go on as {[group[i].id for i in order]}")
        return [group[i] for i in order]
