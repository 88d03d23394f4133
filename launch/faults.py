"""Fault plans: the ``--fault SPEC`` grammar and where each fault goes.

Grammar (one fault per ``--fault``, or one string of a topology's
``faults = [...]``)::

    disk<I>:error:request=<N>        fail the N-th request disk I serves (from 1) with EIO
    disk<I>:error:lba=<A>[-<B>]      fail every request touching sectors A..B of disk I
    disk<I>:full:bytes=<SIZE>        fail with ENOSPC every write ending past SIZE bytes (SIZE like 4M, 512K)
    disk<I>:slow:<LATENCY>           disk I's completion latency (none|fixed:D|uniform:A:B|exp:M), not --latency's
    disks:reorder:window=<W>         the completions of all disks reach blkreplay in groups of up to W, each
                                     in a seeded order (a group also goes once it holds all that is in flight)

    link:<FROM>-><TO>:duplicate:every=<N>   every N-th machine frame FROM pushes to TO is pushed twice
    link:<FROM>-><TO>:delay:<LATENCY>       each machine frame FROM pushes to TO is held for a latency draw

    actor:<NAME>:garbage:count=<N>          N frames of random bytes pushed into NAME's inbox once the run starts
    actor:<NAME>:crash:message=<N>          NAME SIGKILLs itself when it takes its N-th machine message
    actor:<NAME>:crash:checkpoint=<K>       ... when it takes (ide, blkreplay) or sends (cpu) Checkpoint K
    actor:<NAME>:crash:random               ... at a machine message number drawn from the seed (1..2000)
    actor:<NAME>:hang:message=<N>[:seconds=<T>]   at its N-th machine message NAME stops (no inbox, no
                                                  heartbeats) for T seconds, or for good

Every random choice (garbage bytes, delays, reorderings, the random crash
point) is drawn from the run's seed and the fault's spec, so the same seed
and plan inject the same faults. Faults the guest can observe (disk errors,
a full disk) reach it as recorded events, so a replay sees them again
without injecting anything; the log's header lists the plan. Disk faults
go to the image actor named ``disk<I>`` (its ``faults`` and ``latency``
parameters), the reorder fault to blkreplay (its ``reorder`` parameter:
a drive has one command at a time, so completions can only be reordered
where all drives' meet); runtime faults to the actor they name, or a link's sender
(``actors._faults``, via its ``ActorSpec``); garbage is pushed by the
launcher.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Any, Iterable

from actors._faults import Crash, Delay, Duplicate, Hang, RuntimeFault
from actors.blkreplay import CompletionReorder
from actors.image import DiskFault, Latency, LatencyError
from actors.schema import ActorStats

from .disks import SECTOR, DiskError, parse_size

RANDOM_CRASH = (1, 2000)
"""The range of a random crash's machine message number."""
MAX_NUMBER = (1 << 63) - 1  # what a message carries (64-bit signed)
MAX_GARBAGE = 10_000
"""At most this many garbage frames: they are pushed at once, and an inbox
holds 10,000 (more would block the launcher that pushes them)."""
MAX_HANG_SECONDS = 86400
"""The longest a hang that ends may last (a day; longer is for good, which
leaving seconds out says, and time.sleep takes less than 2**63 ns)."""

_DISK = re.compile(r"^disk(\d+):([a-z]+)(?::(.*))?$")
_DISKS = re.compile(r"^disks:([a-z]+)(?::(.*))?$")
_LINK = re.compile(r"^link:([^:]+?)->([^:]+):([a-z]+)(?::(.*))?$")
_ACTOR = re.compile(r"^actor:([^:]+):([a-z]+)(?::(.*))?$")

GRAMMAR = ("disk<I>:error:request=<N> | disk<I>:error:lba=<A>[-<B>] | disk<I>:full:bytes=<SIZE> | "
           "disk<I>:slow:<LATENCY> | disks:reorder:window=<W> | link:<FROM>-><TO>:duplicate:every=<N> | "
           "link:<FROM>-><TO>:delay:<LATENCY> | actor:<NAME>:garbage:count=<N> | "
           "actor:<NAME>:crash:message=<N> | actor:<NAME>:crash:checkpoint=<K> | actor:<NAME>:crash:random | "
           "actor:<NAME>:hang:message=<N>[:seconds=<T>]")


class FaultError(ValueError):
    """A fault spec that cannot be used; the message says why."""


@dataclass(frozen=True)
class PlannedFault:
    """One fault of a plan, and who applies it.

    ``actor``: the actor that applies it (``disk<I>``, blkreplay, a link's
    sender, the actor named). ``fault``: what that actor is given (a
    ``DiskFault`` or ``CompletionReorder`` in its parameters, or an
    ``actors._faults`` struct in its spec); None for
    a slow disk (``latency`` replaces its latency parameter) and for
    garbage (``garbage`` frames pushed by the launcher). ``disk``: the disk
    index of a disk fault, else -1."""

    spec: str
    actor: str
    fault: DiskFault | CompletionReorder | RuntimeFault | None = None
    disk: int = -1
    latency: str = ""
    garbage: int = 0

    @property
    def params(self) -> tuple[str, ...]:
        """The parameters of its actor it goes in (none: the actor's spec)."""
        if self.disk >= 0:
            return ("faults", "latency")
        return ("reorder",) if isinstance(self.fault, CompletionReorder) else ()

    @property
    def runtime(self) -> bool:
        """Not a disk's fault: a replay may inject it too (the guest sees
        nothing of it but through the log)."""
        return self.disk < 0


def _number(spec: str, text: str, key: str, least: int = 1, most: int = MAX_NUMBER) -> int:
    m = re.fullmatch(rf"{key}=(\d+)", text or "")
    if m is None:
        raise FaultError(f"fault {spec!r}: expected {key}=<N>, not {text!r}")
    value = int(m[1])
    if value < least:
        raise FaultError(f"fault {spec!r}: {key} must be at least {least}, not {value}")
    if value > most:
        raise FaultError(f"fault {spec!r}: {key} must be at most {most}, not {value}")
    return value


def _fits(spec: str, value: int, what: str) -> int:
    if value > MAX_NUMBER:
        raise FaultError(f"fault {spec!r}: {what} {value} is too large (at most {MAX_NUMBER})")
    return value


def _latency(spec: str, text: str) -> str:
    if not text:
        raise FaultError(f"fault {spec!r}: expected a latency (none, fixed:DUR, uniform:MIN:MAX or exp:MEAN)")
    try:
        Latency(text)
    except LatencyError as e:
        raise FaultError(f"fault {spec!r}: {e}") from None
    return text


def _rng(seed: int, spec: str) -> random.Random:
    """The fault's own random stream: the run's seed and the spec."""
    return random.Random(f"{seed}/{spec}")


def parse_disk(spec: str, m: re.Match[str], disks: int | None, seed: int) -> PlannedFault:
    """disk<I>:error|full|slow|reorder:..."""
    disk, kind, rest = int(m[1]), m[2], m[3] or ""
    if disks is not None and disk >= disks:
        raise FaultError(f"fault {spec!r}: the run has {disks} disk(s), numbered from 0")
    name = f"disk{disk}"
    if kind == "error":
        e = re.fullmatch(r"(request|lba)=(\d+)(?:-(\d+))?", rest)
        if e is None:
            raise FaultError(f"fault {spec!r}: expected disk<I>:error:request=<N> or disk<I>:error:lba=<A>[-<B>]")
        what, first, last = e[1], _fits(spec, int(e[2]), e[1]), e[3]
        if what == "request":
            if last is not None or first < 1:
                raise FaultError(f"fault {spec!r}: request=<N> takes one request number, counting from 1")
            return PlannedFault(spec, name, DiskFault("error", spec, request=first), disk)
        end = _fits(spec, int(last), "lba") if last is not None else first
        if end < first:
            raise FaultError(f"fault {spec!r}: the sector range {first}-{end} runs backwards")
        return PlannedFault(spec, name, DiskFault("error", spec, first_lba=first, last_lba=end), disk)
    if kind == "full":
        f = re.fullmatch(r"bytes=(\S+)", rest)
        if f is None:
            raise FaultError(f"fault {spec!r}: expected disk<I>:full:bytes=<SIZE> (SIZE like 4M, 512K)")
        try:
            size = parse_size(f[1])
        except DiskError as e:
            raise FaultError(f"fault {spec!r}: {e}") from None
        return PlannedFault(spec, name, DiskFault("full", spec, size=_fits(spec, size, "bytes"), status=28), disk)  # ENOSPC
    if kind == "slow":
        return PlannedFault(spec, name, None, disk, latency=_latency(spec, rest))
    if kind == "reorder":
        raise FaultError(f"fault {spec!r}: one drive has one command at a time, so its completions have nothing "
                         "to be reordered with; disks:reorder:window=<W> reorders the completions of all disks")
    raise FaultError(f"fault {spec!r}: unknown disk fault {kind!r} (error, full or slow)")


def parse_disks(spec: str, m: re.Match[str], seed: int) -> PlannedFault:
    """disks:reorder:window=<W>, applied by blkreplay."""
    kind, rest = m[1], m[2] or ""
    if kind != "reorder":
        raise FaultError(f"fault {spec!r}: unknown fault of all disks {kind!r} (reorder)")
    window = _number(spec, rest, "window", least=2)
    return PlannedFault(spec, "blkreplay", CompletionReorder(spec, window, _rng(seed, spec).getrandbits(63)))


def parse_link(spec: str, m: re.Match[str], seed: int) -> PlannedFault:
    """link:<FROM>-><TO>:duplicate|delay:..."""
    sender, receiver, kind, rest = m[1], m[2], m[3], m[4] or ""
    if sender == receiver:
        raise FaultError(f"fault {spec!r}: a link joins two different actors")
    if kind == "duplicate":
        return PlannedFault(spec, sender, Duplicate(spec, receiver, _number(spec, rest, "every")))
    if kind == "delay":
        return PlannedFault(spec, sender, Delay(spec, receiver, _latency(spec, rest), _rng(seed, spec).getrandbits(63)))
    raise FaultError(f"fault {spec!r}: unknown link fault {kind!r} (duplicate or delay)")


def parse_actor(spec: str, m: re.Match[str], seed: int) -> PlannedFault:
    """actor:<NAME>:garbage|crash|hang:..."""
    name, kind, rest = m[1], m[2], m[3] or ""
    if kind == "garbage":
        return PlannedFault(spec, name, None, garbage=_number(spec, rest, "count", most=MAX_GARBAGE))
    if kind == "crash":
        if rest == "random":
            return PlannedFault(spec, name, Crash(spec, message=_rng(seed, spec).randint(*RANDOM_CRASH)))
        if rest.startswith("checkpoint="):
            return PlannedFault(spec, name, Crash(spec, checkpoint=_number(spec, rest, "checkpoint", least=0)))
        if rest.startswith("message="):
            return PlannedFault(spec, name, Crash(spec, message=_number(spec, rest, "message")))
        raise FaultError(f"fault {spec!r}: expected crash:message=<N>, crash:checkpoint=<K> or crash:random")
    if kind == "hang":
        h = re.fullmatch(r"message=(\d+)(?::seconds=([0-9]*\.?[0-9]+))?", rest)
        if h is None:
            raise FaultError(f"fault {spec!r}: expected hang:message=<N>[:seconds=<T>]")
        message, seconds = _fits(spec, int(h[1]), "message"), float(h[2]) if h[2] is not None else 0.0
        if message < 1:
            raise FaultError(f"fault {spec!r}: message must be at least 1, not {message}")
        if h[2] is not None and not 0 < seconds <= MAX_HANG_SECONDS:
            raise FaultError(f"fault {spec!r}: seconds must be more than 0 and at most {MAX_HANG_SECONDS} "
                             "(leave it out to hang for good)")
        return PlannedFault(spec, name, Hang(spec, message, seconds))
    raise FaultError(f"fault {spec!r}: unknown actor fault {kind!r} (garbage, crash or hang)")


def parse(spec: str, disks: int | None = None, seed: int = 0) -> PlannedFault:
    """One spec; ``disks`` (when known) bounds the disk numbers."""
    text = spec.strip()
    if m := _DISK.match(text):
        return parse_disk(text, m, disks, seed)
    if m := _DISKS.match(text):
        return parse_disks(text, m, seed)
    if m := _LINK.match(text):
        return parse_link(text, m, seed)
    if m := _ACTOR.match(text):
        return parse_actor(text, m, seed)
    raise FaultError(f"fault {spec!r}: expected one of {GRAMMAR}")


def plan(specs: list[str], disks: int | list[int] | None = None, seed: int = 0,
         actors: Iterable[str] | None = None, links: Iterable[tuple[str, str]] | None = None) -> list[PlannedFault]:
    """Parse every spec; with ``disks`` given as their sizes in bytes (not
    only how many), refuse a disk fault no request can meet; with
    ``actors`` (and ``links``) given, check that each fault names an actor
    (and a link) of the run."""
    count = len(disks) if isinstance(disks, list) else disks
    faults = [parse(spec, count, seed) for spec in specs]
    one_at_a_time(faults)
    if isinstance(disks, list):
        _within(faults, disks)
    if actors is not None:
        names = list(actors)
        pairs = {frozenset(pair) for pair in links or ()}
        for f in faults:
            if f.actor not in names:
                needs = " (the reorder fault works in blkreplay: use reel record)" if isinstance(
                    f.fault, CompletionReorder) else ""
                raise FaultError(f"fault {f.spec!r}: the run has no actor {f.actor!r} "
                                 f"(actors: {', '.join(names)}){needs}")
            if isinstance(f.fault, (Duplicate, Delay)):
                if f.fault.peer not in names:
                    raise FaultError(f"fault {f.spec!r}: the run has no actor {f.fault.peer!r} "
                                     f"(actors: {', '.join(names)})")
                if links is not None and frozenset((f.actor, f.fault.peer)) not in pairs:
                    raise FaultError(f"fault {f.spec!r}: no link joins {f.actor!r} and {f.fault.peer!r}")
    return faults


def _within(faults: list[PlannedFault], sizes: list[int]) -> None:
    """Refuse a disk fault that no request of its disk (of ``sizes[i]``
    bytes) can meet: an error at sectors past the disk's last, or a disk
    full at or past its size. It was taken, never struck, and the log
    listed it as injected."""
    for f in faults:
        if not isinstance(f.fault, DiskFault) or f.disk < 0:
            continue
        size = sizes[f.disk]
        last = size // SECTOR - 1
        if f.fault.kind == "error" and f.fault.first_lba > last:
            raise FaultError(f"fault {f.spec!r}: disk{f.disk} has sectors 0 to {last}: no request reaches "
                             f"LBA {f.fault.first_lba}")
        if f.fault.kind == "full" and f.fault.size >= size:
            raise FaultError(f"fault {f.spec!r}: disk{f.disk} holds {size} bytes: no write ends past "
                             f"{f.fault.size}")


def one_at_a_time(faults: list[PlannedFault]) -> None:
    """Refuse two faults that set one thing (a disk's latency, the reorder
    window, a link's delay or duplication): only the last would be in
    effect, while the log's header listed both."""
    seen: dict[tuple[str, ...], str] = {}
    for f in faults:
        if f.latency:
            key: tuple[str, ...] = ("latency of", f.actor)
        elif isinstance(f.fault, CompletionReorder):
            key = ("reorder window of", f.actor)
        elif isinstance(f.fault, (Delay, Duplicate)):
            what = "delay" if isinstance(f.fault, Delay) else "duplication"
            key = (f"{what} of the link", f"{f.actor}->{f.fault.peer}")
        else:
            continue
        if key in seen:
            raise FaultError(f"faults {seen[key]!r} and {f.spec!r} both set the {key[0]} {key[1]}: "
                             "only one can be in effect")
        seen[key] = f.spec


CHECKPOINTING = {"actors.cpu:Cpu", "actors.ide:Ide", "actors.blkreplay:BlkReplay"}
"""The implementations that send (cpu) or take (ide, blkreplay) Checkpoints,
in a run that has a blkreplay: where crash:checkpoint=<K> can fire."""


def for_run(specs: list[str], topology: Any) -> list[PlannedFault]:
    """``specs`` checked against a run's topology: every fault names one of
    its actors (and links), drawn from its ``run.seed``; a crash at a
    checkpoint names an actor that sees checkpoints in this run."""
    faults = plan(specs, None, topology.run.seed, [a.name for a in topology.actor],
                  [link.between for link in topology.link])
    impls = {a.name: a.impl for a in topology.actor}
    checkpoints = "actors.blkreplay:BlkReplay" in impls.values()
    for f in faults:
        if isinstance(f.fault, Crash) and f.fault.checkpoint >= 0 and not (
                checkpoints and impls[f.actor] in CHECKPOINTING):
            where = "in this run" if checkpoints else "in a run without blkreplay (record or replay has them)"
            raise FaultError(f"fault {f.spec!r}: actor {f.actor!r} never sends or takes a Checkpoint {where}; "
                             "crash:message=<N> crashes it at a message")
    return faults


def for_disk(faults: list[PlannedFault], disk: int) -> list[DiskFault]:
    return [f.fault for f in faults if f.disk == disk and isinstance(f.fault, DiskFault)]


def runtime_only(faults: list[PlannedFault], why: str) -> None:
    """Refuse disk faults (a replay's disks only replay what the log says)."""
    for f in faults:
        if not f.runtime:
            raise FaultError(f"fault {f.spec!r}: {why}")


def actor_params(faults: list[PlannedFault], actor: str, params: dict[str, Any]) -> dict[str, Any]:
    """``params`` of ``actor`` with the faults it takes in its parameters
    applied (a copy): disk faults, a slow disk's latency, the reorder."""
    import msgspec

    mine = [f for f in faults if f.actor == actor and (f.disk >= 0 or isinstance(f.fault, CompletionReorder))]
    if not mine:
        return params
    out = dict(params)
    disk_faults = [f.fault for f in mine if isinstance(f.fault, DiskFault)]
    if disk_faults:
        out["faults"] = list(out.get("faults", [])) + msgspec.to_builtins(disk_faults)
    for f in mine:
        if f.latency:
            out["latency"] = f.latency
        if isinstance(f.fault, CompletionReorder):
            out["reorder"] = msgspec.to_builtins(f.fault)
    return out


def runtime_for(faults: list[PlannedFault], actor: str) -> list[RuntimeFault]:
    """What ``actor``'s process injects itself (``ActorSpec.faults``)."""
    return [f.fault for f in faults if f.actor == actor and isinstance(f.fault, (Duplicate, Delay, Crash, Hang))]


def garbage_frames(fault: PlannedFault, seed: int) -> list[bytes]:
    """The fault's frames of seeded random bytes (1 to 64 each)."""
    rng = _rng(seed, fault.spec + "/frames")
    return [rng.randbytes(rng.randint(1, 64)) for _ in range(fault.garbage)]


def blame(faults: list[PlannedFault], actor: str, kinds: tuple[type, ...] = (Crash, Hang)) -> str:
    """`` (injected fault SPEC)`` when the plan made ``actor`` crash or hang
    (of ``kinds``: a silence is a hang's doing, a SIGKILL a crash's)."""
    specs = [f.spec for f in faults if f.actor == actor and isinstance(f.fault, kinds)]
    return f" (injected fault {', '.join(specs)})" if specs else ""


def unstruck(faults: list[PlannedFault], stats: dict[str, ActorStats]) -> list[str]:
    """What of the plan's faults never struck, each with why we know, from
    the statistics of the actor that applies it (one that did not exit in
    order says nothing, and nothing is said of it). A crash or hang: its
    actor exited in order (a crash leaves it no word to say), having taken
    fewer machine messages than a hang waited for. A disk error or full
    disk, a link's duplication or delay, a reordering: its actor counted
    no strike of it (``ActorStats.struck``). A slow disk and garbage, which
    act whatever the run does, are not said."""
    out = []
    for f in faults:
        if f.actor not in stats:
            continue
        actor = stats[f.actor]
        if isinstance(f.fault, (Crash, Hang)):
            if isinstance(f.fault, Crash) or actor.received < f.fault.message:
                out.append(f"{f.spec} never struck: {f.actor} took {actor.received} machine messages and exited "
                           "in order")
        elif f.fault is not None and not actor.struck.get(f.spec):
            out.append(f"{f.spec} never struck: {_never(f)}")
    return out


def _never(f: PlannedFault) -> str:
    """What did not happen, that a fault that never struck needed."""
    fault = f.fault
    if isinstance(fault, DiskFault):
        return f"no request {f.actor} served met it"
    if isinstance(fault, CompletionReorder):
        return "blkreplay never had two completions at once to take in a seeded order"
    if isinstance(fault, Duplicate):
        return (f"{f.actor} pushed fewer than {fault.every} machine frames to {fault.peer}" if fault.every > 1
                else f"{f.actor} pushed no machine frame to {fault.peer}")
    if isinstance(fault, Delay):
        return f"{f.actor} pushed no machine frame to {fault.peer}"
    return f"{f.actor} counted no strike of it"
