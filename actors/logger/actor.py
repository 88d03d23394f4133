"""The logger: writes the replay log while recording; while replaying,
prescribes the recording's checkpoints and checks every actor against it.

It is off the critical path both ways. Recording, each checkpoint's
events (Recorded: chosen by blkreplay, relayed by the ide with its own
digest, in one frame) and the cpu's and blkreplay's digests at it come
in; a record is appended, and flushed, once all of its parts are in, in
checkpoint order. Replaying, it sends RunTo to the cpu and Expect to
blkreplay up to ``lookahead`` checkpoints ahead, and compares each digest
as it arrives: the first mismatch ends the run with a report, as does
blkreplay waiting too long for a completion. Either way it has the last
word: when the guest exits it collects the disks' digests and finishes the
run with the guest's exit code (recording) or the verdict (replaying).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

import msgspec

from .._async import AsyncActor
from ..schema import (
    CheckpointDigest,
    DiskDigest,
    DiskDigestRequest,
    Expect,
    GuestExit,
    Recent,
    RecentRequest,
    Recorded,
    ReplayBackendFailed,
    ReplayDiverged,
    ReplayStuck,
    RunTo,
    sealed,
)
from . import logfile
from .logfile import DIGESTED, FINGERPRINTED, CheckpointRecord, EndRecord, LogHeader, LogWriter, SealRecord

EXIT_DIVERGED = 3  # a replay did something the recording did not
EXIT_TRUNCATED = 4  # a replay matched as far as a truncated log goes
EXIT_STUCK = 5  # a replay waited too long for an event


class Logger(AsyncActor):
    class Params(msgspec.Struct, forbid_unknown_fields=True):
        mode: Literal["record", "replay"]
        path: str
        header: dict[str, Any] = {}  # recording: the LogHeader's fields
        digested: list[str] = msgspec.field(default_factory=lambda: list(DIGESTED))
        fingerprinted: str = FINGERPRINTED  # digests at every checkpoint; the others only at seals
        disks: list[str] = []  # image peers, in drive order
        cpu: str = "cpu"
        blkreplay: str = "blkreplay"
        digest_every: int = 64  # checkpoints between seals (recording; a replay takes the log's)
        lookahead: Annotated[int, msgspec.Meta(ge=1)] = 64
        recent_wait: float = 1.0  # seconds to wait for the diverging actor's recent messages
        digests_wait: float = 10.0  # replaying: seconds to wait, after the guest's exit, for its last digests

    SENDERS = {"cpu": frozenset({GuestExit})}

    @classmethod
    def peers_named(cls, params: Logger.Params) -> dict[str, str]:
        return {**super().peers_named(params), "blkreplay": params.blkreplay,
                **{f"disks[{i}]": disk for i, disk in enumerate(params.disks)}}

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.digests: dict[int, dict[str, str]] = {}
        self.events: dict[int, tuple[int, list[tuple[int, int]]]] = {}
        self.writer: LogWriter | None = None
        self.next_record = 0
        self.exit: GuestExit | None = None
        self.reporting = False  # a divergence is being reported: check nothing more
        self.done = False
        self.recording: logfile.Log | None = None
        self.checkpoints: logfile.Checkpoints = logfile.Checkpoints()
        self.seals: dict[int, list[str]] = {}
        self.next_prescribed = 0
        self.matched = 0
        self.checked = asyncio.Event()  # replaying, the guest gone: every checkpoint it made is checked

    # --- both modes ------------------------------------------------------------------

    def started(self) -> None:
        try:
            if self.params.mode == "record":
                header = msgspec.convert(self.params.header, LogHeader)
                self.writer = LogWriter(self.params.path, header)
            else:
                self.spawn(self._start_replay(), "reading the log")
        except (OSError, msgspec.ValidationError, logfile.LogError) as e:
            self.fail(f"log {self.params.path}: {e}")

    def on_checkpoint_digest(self, msg: CheckpointDigest, src: str) -> None:
        self.digests.setdefault(msg.seq, {})[src] = msg.digest
        if self.params.mode == "record":
            self._write_ready()
        else:
            self._check(msg.seq, src, msg.digest)

    def _needed(self, seq: int) -> list[str]:
        return list(self.params.digested) if sealed(seq, self.digest_every) else [self.params.fingerprinted]

    @property
    def digest_every(self) -> int:
        return self.recording.header.digest_every if self.recording is not None else self.params.digest_every

    def on_guest_exit(self, msg: GuestExit, src: str) -> object:
        self.exit = msg
        if self.params.mode == "record":
            self._write_ready()
            return None
        return self._replay_verdict()

    async def _disk_digests(self) -> list[str]:
        return [(await self.ask(disk, DiskDigestRequest(), DiskDigest)).digest for disk in self.params.disks]

    def _finish_once(self, code: int, reason: str, report: dict[str, Any]) -> None:
        if not self.done:
            self.done = True
            if self.exit is not None and self.exit.console_error:
                report = {**report, "console_error": self.exit.console_error}
            if self.writer is not None:
                self.writer.close()
            self.finish(code, reason, report)

    # --- recording -------------------------------------------------------------------

    def on_recorded(self, msg: Recorded, src: str) -> None:
        if self.params.mode == "replay":
            return  # what the log prescribed (Expect), relayed back: nothing to learn
        self.events[msg.seq] = (msg.icount, msg.events)
        self._write_ready()

    def _write_ready(self) -> None:
        """Append every record whose parts are all in, in order; after the
        guest's exit and its last checkpoint, the end."""
        writer = self.writer
        if writer is None:
            return
        while self.next_record in self.events:
            seq = self.next_record
            digests = self.digests.get(seq, {})
            if any(actor not in digests for actor in self._needed(seq)):
                return
            icount, events = self.events.pop(seq)
            fingerprint = bytes.fromhex(digests[self.params.fingerprinted])[0]
            last_whole = seq - 1  # the last checkpoint the log holds whole
            try:
                writer.checkpoint(CheckpointRecord(seq, icount, events, fingerprint))
                last_whole = seq
                if sealed(seq, self.digest_every):
                    writer.seal(SealRecord(seq, [digests[actor] for actor in self.params.digested]))
            except OSError as e:
                self._cannot_write(e, last_whole)
                return
            del self.digests[seq]
            self.next_record += 1
        if self.exit is not None and self.next_record >= self.exit.checkpoints and not self.done:
            self.done = True  # the end is being written
            self.spawn(self._write_end(self.exit), "writing the end of the log")

    def _cannot_write(self, e: OSError, last_whole: int) -> None:
        self.writer = None  # nothing more goes to it: what it holds replays as a truncated log
        held = f"checkpoints 0 to {last_whole}" if last_whole >= 0 else "no checkpoint"
        self.fail(f"log {self.params.path}: cannot write ({e.strerror}); it holds {held} "
                  "and replays as a truncated log", output=True)

    async def _write_end(self, exit: GuestExit) -> None:
        writer = self.writer
        assert writer is not None
        disks = await self._disk_digests()
        try:
            writer.end(EndRecord(exit.icount, exit.code, exit.state, exit.memory, disks, exit.undelivered))
            size = writer.size
            writer.close()
        except OSError as e:
            self._cannot_write(e, exit.checkpoints - 1)
            return
        record_bytes = writer.record_bytes
        report = {"log": self.params.path, "checkpoints": writer.records, "events": writer.events,
                  "log_bytes": size, "header_bytes": writer.header_bytes,
                  "bytes_per_event": record_bytes / writer.events if writer.events else None,
                  "icount": exit.icount, "state_digest": exit.state, "memory_digest": exit.memory, "disks": disks,
                  "guest_code": exit.code, "console_error": exit.console_error}
        self.finish(exit.code, f"guest exited with code {exit.code}; recorded {writer.records} checkpoints, "
                               f"{writer.events} events, {size} bytes to {self.params.path}", report)

    # --- replaying -------------------------------------------------------------------

    async def _start_replay(self) -> None:
        # Read on a thread: a long log takes seconds (about 5 us a
        # checkpoint), and the loop must go on heartbeating meanwhile, or
        # the peers take this actor for hung (a 2M-checkpoint log: 11 s).
        # Nothing comes in before it: the cpu and blkreplay wait for what
        # _prescribe_ahead sends.
        try:
            log = await asyncio.to_thread(logfile.read, self.params.path)
        except (OSError, logfile.LogError) as e:
            self.fail(f"log {self.params.path}: {e}")
            return
        self.recording = log
        self.checkpoints = log.checkpoints
        self.seals = log.seals
        self._prescribe_ahead()

    def _prescribe_ahead(self) -> None:
        """Prescribe up to ``lookahead`` checkpoints past the last matched
        one, but only once at most half that many are left: the cpu and
        blkreplay then get about ``lookahead // 2`` (32 by default) at a time
        in one frame each, not a frame (and, for a cpu waiting on its ide, a
        wake-up) per checkpoint."""
        lookahead = self.params.lookahead
        if self.next_prescribed - self.matched > lookahead // 2:
            return
        while self.next_prescribed - self.matched < lookahead and self._prescribe_next():
            pass

    def _prescribe_next(self) -> bool:
        """Prescribe the next checkpoint (or the end); False past the end."""
        seq = self.next_prescribed
        if seq < len(self.checkpoints):
            record = self.checkpoints[seq]
            self.send(self.params.blkreplay, Expect(seq, record.events))
            self.send(self.params.cpu, RunTo(seq, record.icount))
        elif seq == len(self.checkpoints):
            assert self.recording is not None
            end = self.recording.end
            self.send(self.params.cpu, RunTo(-1, end.icount) if end else RunTo(-2, 0))
            if end:  # requests the recording never delivered: issue them as they come, but fail what failed
                self.send(self.params.blkreplay, Expect(-1, end.undelivered))
        else:
            return False
        self.next_prescribed += 1
        return True

    def _check(self, seq: int, actor: str, digest: str) -> None:
        if seq >= len(self.checkpoints) or self.done or self.reporting:
            return
        record = self.checkpoints[seq]
        expected = self._expected(seq, actor, record)
        if expected is not None and not digest.startswith(expected):
            self.reporting = True
            self.checked.set()  # (a verdict waiting for digests gives way to the report)
            self.spawn(self._diverged(seq, record, actor, digest, expected), "reporting a divergence")
            return
        digests = self.digests.get(seq, {})
        if all(a in digests for a in self._needed(seq)):
            del self.digests[seq]
            self.matched += 1
            self._prescribe_ahead()
            if self.exit is not None and self.matched >= self._owed(self.exit):
                self.checked.set()

    def _owed(self, exit: GuestExit) -> int:
        """How many checkpoints a replay that ended in ``exit`` must have
        matched: each it made that the log holds."""
        return min(exit.checkpoints, len(self.checkpoints))

    def _expected(self, seq: int, actor: str, record: CheckpointRecord) -> str | None:
        """What the recording says ``actor``'s digest at ``seq`` begins with
        (None: the log keeps nothing of it there)."""
        if actor in self.params.digested and seq in self.seals:
            return self.seals[seq][self.params.digested.index(actor)]
        if actor == self.params.fingerprinted:
            return f"{record.fingerprint:02x}"
        return None

    async def _diverged(self, seq: int, record: CheckpointRecord, actor: str, digest: str, expected: str) -> None:
        shown = expected if len(expected) > 2 else f"{expected}... (this checkpoint keeps its first byte)"
        recent = await self._recent(actor)
        self._finish_once(EXIT_DIVERGED, (
            f"divergence at checkpoint {seq} (icount {record.icount}): {actor}'s digest is {digest}, "
            f"the recording's was {shown}" + "".join(f"\n    {line}" for line in recent)),
            {"checkpoint": seq, "icount": record.icount, "actor": actor, "digest": digest,
             "expected": expected, "matched_checkpoints": self.matched, "recent": recent})

    async def _recent(self, actor: str) -> list[str]:
        """``actor``'s last messages, if it answers soon (it may be busy or
        stuck: the report goes out either way)."""
        try:
            reply = await asyncio.wait_for(self.ask(actor, RecentRequest(), Recent), self.params.recent_wait)
        except asyncio.TimeoutError:
            return [f"({actor} did not say what it last exchanged within {self.params.recent_wait:g} s)"]
        return [f"{actor}'s most recent messages, oldest first:"] + reply.lines

    def _missing_digests(self, exit: GuestExit) -> str:
        seq = self.matched
        missing = [a for a in self._needed(seq) if a not in self.digests.get(seq, {})]
        return (f"the guest exited after checkpoint {exit.checkpoints - 1}, but the digest of checkpoint {seq} "
                f"from {', '.join(missing) or '?'} did not come within {self.params.digests_wait:g} s")

    def on_replay_stuck(self, msg: ReplayStuck, src: str) -> None:
        if self.reporting:
            return  # a divergence came first: that is the report
        self._finish_once(EXIT_STUCK, f"replay stuck: {msg.what}", {"checkpoint": msg.seq, "what": msg.what})

    def on_replay_backend_failed(self, msg: ReplayBackendFailed, src: str) -> None:
        if self.reporting:
            return
        self._finish_once(EXIT_DIVERGED, f"replay diverged at checkpoint {msg.seq}: {msg.what}",
                          {"checkpoint": msg.seq, "what": msg.what})

    def on_replay_diverged(self, msg: ReplayDiverged, src: str) -> None:
        if self.reporting:
            return
        self._finish_once(EXIT_DIVERGED, f"replay diverged: {src}: {msg.what}", {"what": msg.what})

    async def _replay_verdict(self) -> None:
        exit, log = self.exit, self.recording
        assert exit is not None and log is not None
        # The guest's exit can overtake the digests of the last checkpoints
        # (they come from other actors): the verdict waits for them, or a
        # divergence in them would go unseen.
        if self.matched < self._owed(exit) and not self.reporting:
            try:
                await asyncio.wait_for(self.checked.wait(), self.params.digests_wait)
            except asyncio.TimeoutError:
                what = self._missing_digests(exit)
                self._finish_once(EXIT_STUCK, f"replay stuck: {what}", {"checkpoint": self.matched, "what": what})
                return
        if self.reporting:
            return
        end = log.end
        if end is None:
            why = log.truncated or "it has no end record"
            self._finish_once(EXIT_TRUNCATED, (
                f"replayed {self.matched} checkpoints, all matching, to the last whole one (icount {exit.icount}); "
                f"the log ends there: {why}"), {"matched_checkpoints": self.matched, "icount": exit.icount})
            return
        disks = await self._disk_digests()
        pairs = {"icount": (exit.icount, end.icount), "exit code": (exit.code, end.code),
                 "cpu state": (exit.state, end.state), "memory": (exit.memory, end.memory)}
        pairs.update({f"disk {i}": (now, then) for i, (now, then) in enumerate(zip(disks, end.disks))})
        differ = [name for name, (now, then) in pairs.items() if now != then]
        report = {"matched_checkpoints": self.matched, "checkpoints": len(self.checkpoints),
                  "compare": {name: {"replay": now, "recording": then} for name, (now, then) in pairs.items()}}
        if differ:
            self._finish_once(EXIT_DIVERGED, f"replay ended differently from the recording: {', '.join(differ)}",
                              report)
        else:
            self._finish_once(0, f"replay matched the recording: {self.matched} checkpoints, final cpu state, "
                                 f"memory and {len(disks)} disk(s)", report)
