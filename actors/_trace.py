"""Frame tracing, a developer's tool: where a run's time goes, by link and
by actor (``REEL_TRACE_DIR=DIR reel ...``, then ``reel trace DIR``).

Each actor process notes, with the host's monotonic clock, every machine
frame it pushes and takes (link, first sequence number, message count and
kinds) and every blocking wait on its inbox, and writes them to
``DIR/<actor>.trace`` when it ends. A frame is known on both sides by its
sender, receiver and first sequence number, so matching the two notes
gives each hop's latency exactly: what the transport costs, apart from
what the actors spend working. (The clock is per host: traces of actors
on different hosts do not compare.)

Nothing is installed unless the variable is set: an untraced run pays
nothing.
"""

from __future__ import annotations

import itertools
import os
import stat
import statistics
import time
from typing import Any

import msgspec

ENV = "REEL_TRACE_DIR"


class Pushed(msgspec.Struct, array_like=True, tag=0):
    t: int  # ns, monotonic
    peer: str
    seq: int
    count: int


class Taken(msgspec.Struct, array_like=True, tag=1):
    t: int
    peer: str
    seq: int
    kinds: list[str]


class Waited(msgspec.Struct, array_like=True, tag=2):
    t: int  # when the wait began
    ns: int  # how long it took


Event = Pushed | Taken | Waited


class Trace(msgspec.Struct):
    actor: str
    events: list[Event]
    run: str = ""  # the run's id: a folder may still hold traces of earlier runs


def install(node: Any, directory: str, run: str = "") -> Any:
    """Wrap ``node``'s frame seams to note events; returns a function that
    writes the trace (call it once, as the process ends)."""
    events: list[Event] = []
    note = events.append
    clock = time.monotonic_ns
    take, flush_link, send_bulk, receive = node.take, node._flush_link, node._send_bulk, node.receive

    def traced_take(head: bytes, sock: object) -> None:
        t = clock()
        before = len(node.pending)
        take(head, sock)
        taken = list(itertools.islice(node.pending, before, None))
        if taken:
            env = node._decode_envelope(head)
            if env.seq > 0:  # a machine frame (control frames are not numbered)
                note(Taken(t, env.src, env.seq, [type(m).__name__ for m, _ in taken]))

    def traced_flush_link(link: Any) -> None:
        if link.queue:
            note(Pushed(clock(), link.peer, link.sent_seq + 1, len(link.queue)))
        flush_link(link)

    def traced_send_bulk(link: Any, msg: Any, field: str) -> None:
        note(Pushed(clock(), link.peer, link.sent_seq + 1 + len(link.queue), 1))
        send_bulk(link, msg, field)

    def traced_receive(flags: int = 0) -> bool:
        if flags:
            return receive(flags)
        t = clock()
        got = receive(flags)
        note(Waited(t, clock() - t))
        return got

    node.take, node._flush_link, node._send_bulk, node.receive = (
        traced_take, traced_flush_link, traced_send_bulk, traced_receive)

    def write() -> None:
        path = os.path.join(directory, f"{node.name}.trace")
        try:
            os.makedirs(directory, exist_ok=True)
            with open(path, "wb") as f:
                f.write(msgspec.msgpack.encode(Trace(node.name, events, run)))
        except OSError as e:
            node.log.error("cannot write the trace %s: %s", path, e.strerror)

    return write


# --- reading: reel trace DIR -------------------------------------------------------------


def load(directory: str, left_out: list[str] | None = None) -> list[Trace]:
    """The traces of the last run traced into ``directory`` (the run of its
    newest file): each run writes one file per actor, so an earlier run's
    actors that this one did not have are still there. Their file names
    go to ``left_out``."""
    found = []  # (mtime, name, trace)
    try:
        names = sorted(os.listdir(directory))
    except OSError as e:
        raise ValueError(f"{directory}: {e.strerror}") from None
    for name in names:
        if name.endswith(".trace"):
            path = os.path.join(directory, name)
            if not stat.S_ISREG(os.stat(path).st_mode):  # (a named pipe would block the read, /dev/zero never end it)
                raise ValueError(f"{path}: not a regular file")
            with open(path, "rb") as f:
                try:
                    found.append((os.fstat(f.fileno()).st_mtime_ns, name, msgspec.msgpack.decode(f.read(), type=Trace)))
                except msgspec.MsgspecError as e:
                    raise ValueError(f"{path}: not a trace ({e})") from None
    if not found:
        raise ValueError(f"{directory}: no .trace files (run with {ENV}={directory})")
    last = max(found, key=lambda item: item[0])[2].run
    if left_out is not None:
        left_out.extend(name for _, name, trace in found if trace.run != last)
    return [trace for _, _, trace in found if trace.run == last]


def summarize(traces: list[Trace]) -> dict[str, Any]:
    """Per link: frames, messages and hop latency (median and 90th
    percentile, us); per actor: the share of its traced span it spent
    blocked on its inbox (blocking actors only: an asyncio actor waits in
    its event loop, which is not traced)."""
    pushed: dict[tuple[str, str, int], int] = {}
    for trace in traces:
        for e in trace.events:
            if type(e) is Pushed:
                pushed[(trace.actor, e.peer, e.seq)] = e.t
    hops: dict[str, list[float]] = {}
    messages: dict[str, int] = {}
    for trace in traces:
        for e in trace.events:
            if type(e) is Taken:
                sent = pushed.get((e.peer, trace.actor, e.seq))
                link = f"{e.peer} -> {trace.actor}"
                messages[link] = messages.get(link, 0) + len(e.kinds)
                if sent is not None:
                    hops.setdefault(link, []).append((e.t - sent) / 1000)
    links = {}
    for link, values in sorted(hops.items()):
        values.sort()
        links[link] = {"frames": len(values), "messages": messages[link],
                       "median_hop_us": statistics.median(values),
                       "p90_hop_us": values[min(len(values) - 1, int(len(values) * 0.9))]}
    actors = {}
    for trace in traces:
        # A wait ends after it begins: its end is in the span too (taking
        # only the beginnings, a last long wait made waiting over 100%).
        ends = [e.t + e.ns if type(e) is Waited else e.t for e in trace.events]
        waits = [e.ns for e in trace.events if type(e) is Waited]
        span = (max(ends) - min(e.t for e in trace.events)) if ends else 0
        actors[trace.actor] = {"events": len(trace.events), "span_s": span / 1e9,
                               "waiting_share": (sum(waits) / span) if waits and span else None}
    return {"links": links, "actors": actors}


def render(summary: dict[str, Any]) -> str:
    lines = [f"{'link':24s} {'frames':>8s} {'messages':>9s} {'median hop us':>14s} {'p90 us':>8s}"]
    for link, s in summary["links"].items():
        lines.append(f"{link:24s} {s['frames']:8d} {s['messages']:9d} {s['median_hop_us']:14.1f} "
                     f"{s['p90_hop_us']:8.1f}")
    lines.append("")
    lines.append(f"{'actor':24s} {'span s':>8s} {'waiting on its inbox':>21s}")
    for actor, s in summary["actors"].items():
        share = "n/a (asyncio)" if s["waiting_share"] is None else f"{100 * s['waiting_share']:.0f}%"
        lines.append(f"{actor:24s} {s['span_s']:8.2f} {share:>21s}")
    return "\n".join(lines)
