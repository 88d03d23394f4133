"""A node on the wire: one inbox, named links to peers, and their rules.

Both actors and the launcher are nodes. A node binds one PULL inbox and
connects one PUSH socket per peer to that peer's inbox, so every link is two
FIFO pipes and nothing is routed by identity (no ROUTER that could drop a
message to a peer it does not know yet). The node enforces the wire rules:
hello handshake, per-link sequence numbers (duplicates dropped and counted,
gaps raised), malformed frames counted and dropped, heartbeats on quiet links,
liveness of peers, acknowledged end-of-stream before any socket is closed,
and the running digest. It never waits by itself: the drivers decide how.

Batching. ``send`` queues a machine message on its link; ``flush`` turns
each link's queue into one frame. Frames are cut only at points fixed by what
the actor does, never by timing: before each received frame is taken
(``receive``), when a queue reaches ``BATCH_MESSAGES``, before a bulk
message, and where the actor asks (``flush``; the drivers' ``call`` and
``poll``). Control messages (heartbeats, hello, ...) and hints (news whose
moment is the host's: ``schema.Hint``) never join a batch: each leaves at
once in a frame of its own with sequence number 0, so their timing moves
neither a machine frame's edges nor its numbers. Hence every machine
frame is byte-for-byte deterministic, and the digest covers whole machine
frames, in the order this node pushed and took them. Invariant: a node never
waits for input while it holds unflushed messages, so batching adds no
latency to a request/reply path.

Sequence numbers count machine messages per directed link (1, 2, ...); a
machine frame carries the number of its first message. Control frames are
not sequenced: a duplicated heartbeat or hello is harmless, and EndOfStream,
which must not overtake anything, carries the count of messages it closes.

Measured on the development VM: every microsecond of per-message Python work
costs four to five microseconds of round trip, because each wake-up finds the
caches cold. The common paths below (``send``, ``_flush_link``, ``take``,
``next``) are kept short for that reason; anything unusual takes a side path.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import itertools
import logging
import os
import socket
import stat
import struct
import time
from typing import Any, Callable, Iterable

import msgspec
import zmq

from . import schema
from ._digest import RunningDigest
from ._spin import Spinner
from ._envelope import (
    BAD_SEQUENCE,
    BULK_MISMATCH,
    TRUNCATED,
    UNKNOWN_SENDER,
    WRONG_DESTINATION,
    Codec,
    Envelope,
    Malformed,
    array_header,
    seq_bytes,
)
from ._errors import BindError, HandshakeRefused, LinkGap, NotConnected
from ._link import Link
from ._version import PROTOCOL_VERSION
from .schema import (
    BULK_THRESHOLD,
    CONTROL_TYPES,
    UNSEQUENCED_TYPES,
    ActorStats,
    DigestReply,
    DigestRequest,
    EndOfStream,
    EndOfStreamAck,
    Heartbeat,
    Hello,
)

LAUNCHER = "launcher"
"""The reserved name of the launcher's node."""

DEFAULT_LIVENESS = 3.0
"""Seconds of silence after which a peer counts as lost."""

BATCH_MESSAGES = 64
"""A link's queue is flushed at once when it holds this many messages."""

TICK_SECONDS = 0.02
"""Housekeeping runs at most this often."""

MAX_DROPPED_NUMBERS = 1024
"""Sequence numbers of wholly malformed frames a link remembers (see
``Node._drop_numbers``)."""

RECENT_FRAMES = 32
"""Digested frames a node keeps to report what it last exchanged."""


NAME_SHOWN = 64
"""Most characters of a name from a stranger's frame that a log line shows."""


def _shown(name: str) -> str:
    """``name`` quoted for a log line, cut short if a stranger made it long."""
    text = repr(name)
    return text if len(text) <= NAME_SHOWN else f"{text[:NAME_SHOWN]}... ({len(name)} characters)"


def _allow_ipv6(sock: zmq.Socket, endpoint: str) -> None:
    """ZeroMQ takes IPv6 addresses (``tcp://[::1]:5555``) only on sockets
    told to; told so always, it would bind even IPv4 addresses as IPv6,
    which fails on hosts whose kernel has IPv6 turned off."""
    if endpoint.startswith("tcp://["):
        sock.setsockopt(zmq.IPV6, 1)


def ipc_path_taken(path: str) -> str:
    """Why an ipc inbox may not be bound at ``path`` ("" if it may, as far
    as what is there goes): binding unlinks whatever is there, so only
    nothing or a socket will do."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return ""
    except OSError as e:
        return f"{path}: {e.strerror}"
    if stat.S_ISSOCK(mode):
        return ""
    return f"{path} exists and is not a socket (binding there would delete it)"


def _file_id(path: str) -> tuple[int, int]:
    info = os.lstat(path)
    return info.st_dev, info.st_ino


def _refuse_if_listened(name: str, endpoint: str) -> None:
    """ZeroMQ binds an ipc path by unlinking whatever is there: a socket
    another run listens on would be taken from it, and both runs fail later
    with a misleading silence; a file (a disk image, the topology itself, a
    typo away) would be deleted. Anything there but a socket nothing answers
    on is refused."""
    path = endpoint[len("ipc://"):]
    why = ipc_path_taken(path)
    if why:
        raise BindError(f"{name}: cannot bind its inbox to {endpoint}: {why}")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except OSError:
        return  # nothing there, or a stale socket file nothing listens on: fine to bind over
    finally:
        probe.close()
    raise BindError(f"{name}: cannot bind its inbox to {endpoint}: another process listens there")


class CurveKeys(msgspec.Struct, array_like=True):
    """The run's CURVE key pair (z85 text). Every node of a run serves its
    tcp inbox with it and presents it as a client; the ZAP handler accepts
    only this public key, so only members of the run can connect."""

    public: str
    secret: str


class Node:
    """The wire state of one process. Not thread-safe: one loop drives it."""

    def __init__(
        self,
        name: str,
        peers: Iterable[tuple[str, bool]],
        *,
        liveness: float = DEFAULT_LIVENESS,
        curve: CurveKeys | None = None,
        check_schema: bool = True,
        log: logging.Logger | None = None,
        spin: float = 0.0,
        io_cpu: int | None = None,
    ) -> None:
        self.name = name
        self.liveness = liveness
        self.heartbeat_interval = liveness / 6
        self.curve = curve
        self.check_schema = check_schema
        self.log = log or logging.getLogger(name)
        self.ctx = zmq.Context()
        if io_cpu is not None:  # (before the first socket starts the I/O thread)
            self.ctx.set(zmq.THREAD_AFFINITY_CPU_ADD, io_cpu)
        self.inbox = self.ctx.socket(zmq.PULL)
        self.inbox.setsockopt(zmq.LINGER, 0)
        self.spinner = Spinner(self.inbox, spin) if spin else None  # see actors._spin; None: sleep at once
        self.codec = Codec()
        self._encode = self.codec.encode
        self._decode_envelope = self.codec.decode_envelope
        self.links: dict[str, Link] = {
            peer: Link(peer, digest, frame_prefix=self.codec.frame_prefix(name, peer)) for peer, digest in peers
        }
        self.digest = RunningDigest()
        self._digest_update = self.digest.update
        # The last digested frames, to say what an actor did just before a
        # divergence. Frames are kept as they are; decoding waits for a request.
        self.recent: collections.deque[tuple[bool, bytes]] = collections.deque(maxlen=RECENT_FRAMES)
        self._recent = self.recent.append
        self.pending: collections.deque[tuple[msgspec.Struct, str]] = collections.deque()
        self._dirty: list[Link] = []
        self._open: dict[str, Link] = {}  # the links a message can be sent on now
        self.malformed: dict[str, int] = {}
        self.struck: dict[str, int] = {}  # planned fault spec -> how often it struck here (ActorStats.struck)
        self.unhandled: dict[str, int] = {}
        self.gaps = 0
        self.endpoint = ""
        self._authenticator: object | None = None
        self._socket_file: tuple[str, tuple[int, int]] | None = None  # the ipc inbox's socket file, (device, inode)
        self.next_tick = 0.0  # (time.monotonic) before this, tick has nothing to do
        self.last_tick = time.monotonic()  # when tick last looked at the links
        self._on_all_hellos: Callable[[], None] | None = None
        # How frames leave: blocking pushes by default. The asyncio driver
        # installs non-blocking ones that queue on a full pipe, and a hook
        # that flushes sends made outside its serve loop.
        self.push_factory: Callable[[Link], Callable[[bytes], object]] = self._blocking_push
        self.push_bulk: Callable[[Link, bytes, object], None] = self._push_bulk_blocking
        self.on_first_queued: Callable[[], None] | None = None
        # The control kinds the node answers itself; every other kind (a
        # DigestReply, say) goes to the owner.
        self._runtime_handlers: dict[type, Callable[[msgspec.Struct, Link], None]] = {
            t: getattr(self, "_" + schema.handler_name(t))
            for t in _RUNTIME_CONTROL
            if hasattr(self, "_" + schema.handler_name(t))
        }

    # --- sockets -------------------------------------------------------------

    def bind(self, endpoint: str) -> str:
        """Bind the inbox; returns the endpoint peers must connect to (a tcp
        port of 0 becomes the port the kernel chose)."""
        if endpoint.startswith("tcp://") and self.curve is not None:
            self._serve_curve(self.inbox)
        self.inbox.setsockopt(zmq.RCVHWM, 10_000)
        if endpoint.startswith("ipc://"):
            _refuse_if_listened(self.name, endpoint)
        _allow_ipv6(self.inbox, endpoint)
        try:
            self.inbox.bind(endpoint[:-2] + ":*" if endpoint.endswith(":0") else endpoint)
        except zmq.ZMQError as e:
            raise BindError(f"{self.name}: cannot bind its inbox to {endpoint}: {e.strerror}") from None
        self.endpoint = self.inbox.getsockopt_string(zmq.LAST_ENDPOINT)
        if endpoint.startswith("ipc://"):
            with contextlib.suppress(OSError):
                path = endpoint[len("ipc://"):]
                self._socket_file = path, _file_id(path)
        return self.endpoint

    def connect(self, peer: str, endpoint: str) -> None:
        """Open the link's outgoing pipe and say Hello first on it."""
        link = self._link(peer)
        if link.out is not None:
            raise NotConnected(f"{self.name}: link to {peer!r} is already connected to {link.endpoint}")
        out = self.ctx.socket(zmq.PUSH)
        out.setsockopt(zmq.SNDHWM, 1000)
        out.setsockopt(zmq.LINGER, int(self.liveness * 1000))
        out.setsockopt(zmq.SNDTIMEO, max(1, int(self.heartbeat_interval * 1000)))  # a slice (_wait_to_push)
        if endpoint.startswith("tcp://") and self.curve is not None:
            out.curve_serverkey = self.curve.public.encode()
            out.curve_publickey = self.curve.public.encode()
            out.curve_secretkey = self.curve.secret.encode()
        _allow_ipv6(out, endpoint)
        out.connect(endpoint)
        link.out, link.endpoint = out, endpoint
        link.push = self.push_factory(link)
        self._open[peer] = link
        link.said_at = link.heard_at = time.monotonic()
        self.send(peer, Hello(self.name, PROTOCOL_VERSION, schema.SCHEMA_HASH))

    def _serve_curve(self, sock: zmq.Socket) -> None:
        from zmq.auth.thread import ThreadAuthenticator

        assert self.curve is not None
        allowed = self.curve.public.encode()

        class RunMembers:
            def callback(self, domain: str, key: bytes) -> bool:
                return key == allowed

        auth = ThreadAuthenticator(self.ctx)
        auth.start()
        auth.configure_curve_callback(domain="*", credentials_provider=RunMembers())
        self._authenticator = auth
        sock.curve_server = True
        sock.curve_publickey = self.curve.public.encode()
        sock.curve_secretkey = self.curve.secret.encode()

    def close(self) -> None:
        """Close every socket. Links whose end-of-stream was acknowledged (or
        whose peer is lost) close at once; any other keeps its linger."""
        if not any(link.lost for link in self._dirty):
            self.flush()
        for link in self.links.values():
            if link.out is not None:
                if link.eos_acked or link.lost:
                    link.out.setsockopt(zmq.LINGER, 0)
                link.out.close()
                link.out = None
        self._open.clear()
        self.inbox.close(linger=0)
        if self._authenticator is not None:
            self._authenticator.stop()  # type: ignore[attr-defined]
        self.ctx.term()
        self._remove_socket_file()

    def _remove_socket_file(self) -> None:
        """Remove the socket file of an ipc inbox, if it is still the one
        this node bound (a run after ours may have bound the path anew)."""
        if self._socket_file is None:
            return
        path, bound = self._socket_file
        with contextlib.suppress(OSError):
            if _file_id(path) == bound:
                os.unlink(path)
        self._socket_file = None

    # --- sending -------------------------------------------------------------

    def send(self, peer: str, msg: msgspec.Struct) -> None:
        """Queue machine message ``msg`` for ``peer`` (it leaves at the next
        flush point); send a control message at once, in a frame of its own."""
        link = self._open.get(peer)
        if link is None:
            lost = peer in self.links and self.links[peer].lost
            raise NotConnected(self._why_not_connected(peer, msg), peer if lost else "")
        special = _SPECIAL.get(type(msg))  # None for a plain machine message
        if special is not None:
            if special is _CONTROL:
                self._push(link, self._control_frame(link, msg))
                return
            if len(getattr(msg, special)) >= BULK_THRESHOLD:
                self._send_bulk(link, msg, special)
                return
        queue = link.queue
        queue.append(self._encode(msg))
        if len(queue) == 1:
            self._dirty.append(link)
            if self.on_first_queued is not None and len(self._dirty) == 1:
                self.on_first_queued()
        elif len(queue) >= BATCH_MESSAGES:
            self._flush_link(link)

    def flush(self) -> None:
        """Frame and push every link's queue. (A link whose queue was flushed
        on reaching BATCH_MESSAGES may still be listed, empty: an empty frame
        is never sent, since whether one would be depends on timing.)"""
        for link in self._dirty:
            if link.queue:
                self._flush_link(link)
        self._dirty.clear()

    def _flush_link(self, link: Link) -> None:
        queue = link.queue
        count = len(queue)
        seq = link.sent_seq + 1
        link.sent_seq += count
        if count == 1:
            frame = b"".join((link.frame_prefix, _SEQ32(0xCE, seq) if seq < _SEQ32_END else seq_bytes(seq),
                              b"\x91", queue[0], b"\x00"))
        else:
            frame = b"".join((link.frame_prefix, seq_bytes(seq), array_header(count), *queue, b"\x00"))
        queue.clear()
        if link.digest:
            self._digest_update(frame)
            self._recent((True, frame))
        try:
            link.push(frame)  # type: ignore[misc]
        except zmq.Again:
            raise NotConnected(self._why_stuck(link), link.peer) from None

    def _control_frame(self, link: Link, msg: msgspec.Struct) -> bytes:
        """A control message's frame of its own (unsequenced: seq 0)."""
        return link.frame_prefix + b"\x00\x91" + self._encode(msg) + b"\x00"

    def _push(self, link: Link, frame: bytes) -> None:
        """Push a control frame."""
        link.control_out += 1
        try:
            link.push(frame)  # type: ignore[misc]
        except zmq.Again:
            raise NotConnected(self._why_stuck(link), link.peer) from None

    def _send_bulk(self, link: Link, msg: msgspec.Struct, field: str) -> None:
        """A bulk message travels alone: its fields in the head frame, its
        payload in the next frame, sent without a copy."""
        if link.queue:
            self._flush_link(link)  # keep the link's order
        payload = getattr(msg, field)
        body = self._encode(msgspec.structs.replace(msg, **{field: b""}))
        head = link.frame_prefix + seq_bytes(link.sent_seq + 1) + b"\x91" + body + b"\x01"
        link.sent_seq += 1
        if link.digest:
            self.digest.add(head, payload)
            self._recent((True, head))
        try:
            self.push_bulk(link, head, payload)
        except zmq.Again:
            raise NotConnected(self._why_stuck(link), link.peer) from None

    def _blocking_push(self, link: Link) -> Callable[[bytes], object]:
        out = link.out
        assert out is not None

        def push(frame: bytes) -> None:
            try:
                _SEND(out, frame)
            except zmq.Again:
                self._wait_to_push(link, frame, 0)

        return push

    def _push_bulk_blocking(self, link: Link, head: bytes, bulk: Any) -> None:
        out = link.out
        assert out is not None
        try:
            _SEND(out, head, zmq.SNDMORE)
        except zmq.Again:
            self._wait_to_push(link, head, zmq.SNDMORE)
        _SEND(out, bulk, copy=False)  # (the rest of a multipart is never refused)

    def _wait_to_push(self, link: Link, frame: bytes, flags: int) -> None:
        """Push ``frame`` to a peer whose pipe is full, trying a heartbeat
        interval at a time (SNDTIMEO) up to the liveness bound, then raise
        zmq.Again. Meanwhile the other peers hear heartbeats: otherwise a
        sender stuck behind a stalled peer fell as silent as it, and the
        launcher could blame the sender. Its own deafness is not held
        against the peers it could not hear meanwhile."""
        out = link.out
        assert out is not None
        since = time.monotonic()
        while True:
            self._heartbeat_all_but(link)
            try:
                _SEND(out, frame, flags)
                break
            except zmq.Again:
                if time.monotonic() - since > self.liveness:
                    raise
        self.was_deaf()

    def _heartbeat_all_but(self, stuck: Link) -> None:
        """A heartbeat to every open peer but ``stuck``, each only if its pipe
        takes it at once."""
        for link in self._open.values():
            if link is stuck or link.out is None or link.eos_sent:
                continue
            try:
                _SEND(link.out, self._control_frame(link, Heartbeat()), zmq.NOBLOCK)
            except zmq.Again:
                continue
            link.control_out += 1

    def _why_stuck(self, link: Link) -> str:
        return (f"{self.name}: peer {link.peer!r} took no message for {self.liveness:g} s "
                f"({link.endpoint}); its inbox is full or it is gone")

    def _why_not_connected(self, peer: str, msg: msgspec.Struct) -> str:
        what = type(msg).__name__
        if peer not in self.links:
            known = ", ".join(sorted(self.links)) or "none"
            return f"{self.name}: cannot send {what} to {peer!r}: no such link (links: {known})"
        if self.links[peer].lost:
            return f"{self.name}: cannot send {what} to {peer!r}: that peer is lost"
        return f"{self.name}: cannot send {what} to {peer!r}: not connected yet"

    # --- receiving -----------------------------------------------------------

    def receive(self, flags: int = 0) -> bool:
        """Flush, then take one frame from the inbox into ``pending``. False
        when none came (NOBLOCK, or the inbox's receive timeout). Raises
        ``LinkGap``. Drivers call it once ``pending`` is empty, so that a
        frame's messages are all handed out before the next frame is taken;
        a selective receive (``BlockingActor.take_first``) calls it with
        messages still pending, which stay ahead of the new ones."""
        if self._dirty:
            self.flush()
        spinner = self.spinner
        if spinner is not None and not flags:
            spinner.until_frame_or_idle()
        try:
            head = self.inbox.recv(flags)
        except zmq.Again:
            return False
        if spinner is not None:
            spinner.last_frame = time.perf_counter()
        self.take(head, self.inbox)
        return True

    def take(self, head: bytes, sock: zmq.Socket) -> None:
        """Check a received frame, digest it, and queue its messages in
        ``pending``. A malformed frame or message is counted and dropped, a
        duplicate frame dropped and counted. Raises ``LinkGap`` when messages
        were lost."""
        try:
            env = self._decode_envelope(head)
        except _DECODE_ERRORS as e:
            self._take_salvaged(head, e, sock)
            return
        link = self.links.get(env.src)
        if link is None or env.bulk or env.seq != link.recv_seq + 1 or env.dst != self.name:
            self._take_unusual(env, head, sock, len(env.msgs))
            return
        msgs = env.msgs
        link.recv_seq += len(msgs)
        if link.digest:
            self._digest_update(head)
            self._recent((False, head))
        if len(msgs) == 1:
            self.pending.append((msgs[0], env.src))
        else:
            self.pending.extend(zip(msgs, itertools.repeat(env.src)))

    def _take_unusual(self, env: Envelope, head: bytes, sock: zmq.Socket, count: int) -> None:
        """A frame that is not simply the next machine frame from a known
        peer: a control frame, a bulk frame, a duplicate, a gap, or one that
        is wrongly addressed. ``count`` is the number of messages it held on
        the wire (a salvaged frame may hold fewer now)."""
        try:
            link = self._check_route(env, count)
            bulk = self._bulk_frame(env, sock) if env.bulk else None
            if bulk is not None and env.msgs:  # (no message: its only one was bad, and is counted)
                self._attach_bulk(env.msgs[0], bulk, env)
        except Malformed as bad:
            self._discard_rest(sock)
            self._count_malformed(bad)
            return
        if env.seq == 0:  # a control frame: unsequenced, undigested
            link.control_in += 1
            self.pending.extend(zip(env.msgs, itertools.repeat(env.src)))
            return
        if count and not env.msgs:
            self._drop_numbers(link, env.seq, count)
            return
        skip = self._in_sequence(link, env.seq, count)
        if skip == count:
            return
        link.recv_seq = env.seq + count - 1
        if link.digest and not skip:
            self.digest.add(head, bulk)
            self._recent((False, bytes(head)))
        self.pending.extend(zip(env.msgs[skip:], itertools.repeat(env.src)))

    def _take_salvaged(self, head: bytes, error: msgspec.MsgspecError | UnicodeDecodeError, sock: zmq.Socket) -> None:
        """A frame that failed to decode: if only some of its messages are
        bad, count those and take the rest (the bad ones keep their numbers,
        so that no gap is seen after them); else count the frame."""
        try:
            raw = self.codec.decode_raw_envelope(head)
        except _DECODE_ERRORS as e:
            self._discard_rest(sock)
            self._count_malformed(self.codec.classify_envelope(e))
            return
        good = []
        for body in raw.msgs:
            try:
                good.append(self.codec.decode_message(body))
            except _DECODE_ERRORS as e:
                self._count_malformed(self.codec.classify(e))
        if good or raw.src in self.links:  # (a frame of nothing but bad messages: see _drop_numbers)
            self._take_unusual(Envelope(raw.src, raw.dst, raw.seq, good, raw.bulk), head, sock, len(raw.msgs))
        else:
            self._discard_rest(sock)

    @staticmethod
    def _discard_rest(sock: zmq.Socket) -> None:
        """Drop what is left of a refused frame's multipart message (a bulk
        payload, say): left in the socket, each part would be taken for a
        frame of its own and counted as malformed again."""
        while sock.getsockopt(zmq.RCVMORE):
            sock.recv(copy=False)

    def next(self) -> tuple[msgspec.Struct, str] | None:
        """The next ``(message, sender)`` for the owner to dispatch, or None
        when nothing is pending. Runtime control messages are handled here,
        in order. Raises ``HandshakeRefused`` and ``LinkGap``."""
        pending = self.pending
        while pending:
            item = pending.popleft()
            if type(item[0]) not in CONTROL_TYPES or not self.handle_control(*item):
                return item
        return None

    def handle_control(self, msg: msgspec.Struct, src: str) -> bool:
        """Handle a runtime control message (True), or leave it to the owner
        (False). Drivers that pop ``pending`` themselves call this for every
        control message, in order."""
        handler = self._runtime_handlers.get(type(msg))
        if handler is None:
            return False
        handler(msg, self.links[src])
        return True

    def _check_route(self, env: Envelope, count: int) -> Link:
        """The link ``env`` came on, if its addressing, numbering and bulk
        announcement hold; ``count``: its messages on the wire."""
        link = self.links.get(env.src)
        if link is None:
            raise Malformed(UNKNOWN_SENDER, f"frame from unknown sender {_shown(env.src)}")
        if env.dst != self.name:
            raise Malformed(WRONG_DESTINATION, f"frame from {env.src!r} addressed to {_shown(env.dst)}")
        alone = [type(m) in UNSEQUENCED_TYPES for m in env.msgs]
        if env.seq < 0 or (env.seq == 0 and not all(alone)) or (env.seq > 0 and any(alone)):
            raise Malformed(BAD_SEQUENCE, f"frame from {env.src!r} with seq {env.seq} mixes unsequenced (control, "
                                          "hint) and machine messages or numbers unsequenced ones")
        if env.bulk and (env.bulk != 1 or count != 1):
            raise Malformed(BULK_MISMATCH, f"frame from {env.src!r}: {env.bulk} bulk frame(s) "
                                           f"for {count} message(s)")
        return link

    @staticmethod
    def _drop_numbers(link: Link, seq: int, count: int) -> None:
        """A frame whose every message was malformed claimed ``count``
        numbers from ``seq``. They are not taken: the frame may not be the
        peer's (anything that can reach the inbox can name it), and taking
        them would drop the peer's own frame of those numbers as a
        duplicate. Should the peer's next frame start past them, the gap is
        those numbers, and no loss."""
        if count > MAX_DROPPED_NUMBERS:
            return
        kept = {n for n in link.dropped if n > link.recv_seq} if len(link.dropped) < MAX_DROPPED_NUMBERS else set()
        link.dropped = kept | set(range(seq, seq + count))

    def _in_sequence(self, link: Link, seq: int, count: int) -> int:
        """How many leading messages of a frame of ``count`` starting at
        ``seq`` were taken before (dropped and counted as duplicates). A
        frame that starts past the next expected number means lost messages:
        an error, unless the numbers it skips are those of malformed frames
        dropped (``_drop_numbers``)."""
        expected = link.recv_seq + 1
        if seq == expected:
            return 0
        if seq > expected and link.dropped and all(n in link.dropped for n in range(expected, seq)):
            link.dropped.difference_update(range(expected, seq))
            return 0
        if seq > expected:
            self.gaps += 1
            raise LinkGap(f"{self.name}: messages lost on the link from {link.peer!r}: "
                          f"expected seq {expected}, got {seq}")
        seen = min(expected - seq, count)
        link.duplicates += seen
        if link.duplicates == seen:
            self.log.warning("dropped %d duplicate message(s) from %s at seq %d (further ones counted silently)",
                             seen, link.peer, seq)
        return seen

    def _bulk_frame(self, env: Envelope, sock: zmq.Socket) -> memoryview:
        """The one frame after a bulk head (one option query, then the frame
        says itself whether another follows)."""
        frames: list[memoryview] = []
        more = sock.getsockopt(zmq.RCVMORE)
        while more:
            frame = sock.recv(copy=False)
            frames.append(frame.buffer)
            more = frame.more
        if len(frames) != env.bulk:
            kind = TRUNCATED if len(frames) < env.bulk else BULK_MISMATCH
            raise Malformed(kind, f"frame from {env.src!r} announces {env.bulk} bulk frame(s), {len(frames)} came")
        return frames[0]

    @staticmethod
    def _attach_bulk(msg: msgspec.Struct, bulk: memoryview, env: Envelope) -> None:
        field = msg.BULK_FIELD  # type: ignore[attr-defined]
        if field is None or len(getattr(msg, field)):
            raise Malformed(BULK_MISMATCH, f"{type(msg).__name__} from {env.src!r} cannot take a bulk frame")
        setattr(msg, field, bulk)

    def _count_malformed(self, bad: Malformed) -> None:
        first = bad.kind not in self.malformed
        self.malformed[bad.kind] = self.malformed.get(bad.kind, 0) + 1
        if first:
            self.log.warning("dropped a malformed frame (%s; further ones of this kind are counted silently)", bad)

    def recent_lines(self, width: int = 160) -> list[str]:
        """The frames in ``recent``, oldest first, a line per message."""
        lines = []
        for sent, frame in self.recent:
            try:
                env = self._decode_envelope(frame)
            except _DECODE_ERRORS:
                lines.append(f"{'sent' if sent else 'took'} an undecodable frame of {len(frame)} bytes")
                continue
            arrow = f"-> {env.dst}" if sent else f"<- {env.src}"
            for number, msg in enumerate(env.msgs, start=env.seq):
                lines.append(f"{arrow} #{number} {repr(msg)[:width]}")
        return lines

    def count_unhandled(self, msg: msgspec.Struct, src: str) -> None:
        """The owner has no handler for this kind: count it, log it once."""
        what = type(msg).__name__
        first = what not in self.unhandled
        self.unhandled[what] = self.unhandled.get(what, 0) + 1
        if first:
            self.log.warning("no handler for %s from %s; dropped (further ones counted silently)", what, src)

    # --- runtime control handlers (see actors.schema) --------------------------

    def _on_hello(self, msg: Hello, link: Link) -> None:
        # Actors must agree on the whole schema; with the launcher, which
        # speaks only the frozen control messages, the protocol suffices.
        check_schema = self.check_schema and link.peer != LAUNCHER
        if msg.protocol != PROTOCOL_VERSION or (check_schema and msg.schema != schema.SCHEMA_HASH):
            raise HandshakeRefused(
                f"handshake refused between actor {link.peer!r} (protocol {msg.protocol}, schema {msg.schema}) "
                f"and actor {self.name!r} (protocol {PROTOCOL_VERSION}, schema {schema.SCHEMA_HASH})"
            )
        if msg.actor != link.peer:
            raise HandshakeRefused(f"{self.name}: Hello on the link from {link.peer!r} names {msg.actor!r}")
        link.hello = True
        if self._on_all_hellos is not None and self.all_hellos():
            callback, self._on_all_hellos = self._on_all_hellos, None
            callback()

    def _on_heartbeat(self, msg: Heartbeat, link: Link) -> None:
        pass  # its arrival already counted as a sign of life

    def _on_end_of_stream(self, msg: EndOfStream, link: Link) -> None:
        # Nothing machine follows EndOfStream on its link, and its sender
        # flushed before sending it: every message up to last_seq is here.
        if msg.last_seq != link.recv_seq:
            self.gaps += 1
            raise LinkGap(f"{self.name}: {link.peer!r} ended its stream after message {msg.last_seq}, "
                          f"but {link.recv_seq} arrived")
        link.eos_received = True
        if link.out is not None and not link.lost:
            self.send(link.peer, EndOfStreamAck(msg.last_seq))

    def _on_end_of_stream_ack(self, msg: EndOfStreamAck, link: Link) -> None:
        link.eos_acked = msg.last_seq == link.sent_seq

    def _on_digest_request(self, msg: DigestRequest, link: Link) -> None:
        received, sent = self.message_counts()
        self.send(link.peer, DigestReply(msg.token, self.digest.hexdigest(), received, sent))

    # --- handshake, liveness, end of stream ----------------------------------

    def when_all_hellos(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once every peer's Hello has arrived."""
        if self.all_hellos():
            callback()
        else:
            self._on_all_hellos = callback

    def all_hellos(self) -> bool:
        return all(link.hello for link in self.links.values())

    def tick(self) -> list[Link]:
        """Housekeeping, at most every TICK_SECONDS: heartbeats on quiet
        links; returns the links newly found silent past the liveness bound."""
        now = time.monotonic()
        if now < self.next_tick:
            return []
        self.next_tick = now + TICK_SECONDS
        # What this tick finds sent was sent after the last tick: that is
        # when it counts as said. Counted as said now, a busy actor whose
        # ticks come a handler's d seconds apart sent heartbeats 2d apart
        # on a quiet link, and a d of half the liveness bound lost it.
        since, self.last_tick = self.last_tick, now
        lost: list[Link] = []
        for link in self.links.values():
            if link.out is None or link.lost:
                continue
            heard = link.recv_seq + link.control_in
            if heard != link.heard_mark:
                link.heard_mark, link.heard_at = heard, now
            elif now - link.heard_at > self.liveness:
                self.mark_lost(link.peer)
                lost.append(link)
                continue
            said = link.sent_seq + link.control_out
            if said != link.said_mark:
                link.said_mark, link.said_at = said, since
            if now - link.said_at >= self.heartbeat_interval and not link.eos_sent:
                self.send(link.peer, Heartbeat())
                link.said_mark, link.said_at = link.sent_seq + link.control_out, now
        return lost

    def say_alive(self) -> None:
        """Heartbeat on every open link now, whatever tick would say."""
        for peer in list(self._open):
            self.send(peer, Heartbeat())

    def was_deaf(self) -> None:
        """This node could not take frames until now (a fault held it): its
        peers' silence meanwhile is not theirs, and is not held against
        them."""
        now = time.monotonic()
        for link in self.links.values():
            link.heard_at = max(link.heard_at, now)

    def end_streams(self, skip: str | None = None) -> None:
        """Flush, then say EndOfStream on every open link but ``skip``:
        nothing is sent on those links after this."""
        self.flush()
        for link in self.links.values():
            if link.out is not None and not link.lost and not link.eos_sent and link.peer != skip:
                self.send(link.peer, EndOfStream(link.sent_seq))
                link.eos_sent = True

    def streams_closed(self, only: Iterable[str] | None = None) -> bool:
        links = self.links.values() if only is None else (self.links[p] for p in only)
        return all(link.closed or link.out is None for link in links)

    def mark_lost(self, peer: str) -> None:
        if peer in self.links:
            link = self.links[peer]
            link.lost = True
            link.queue.clear()
            self._open.pop(peer, None)

    def _link(self, peer: str) -> Link:
        try:
            return self.links[peer]
        except KeyError:
            raise NotConnected(f"{self.name}: no link named {peer!r}") from None

    # --- statistics ----------------------------------------------------------

    def message_counts(self) -> tuple[int, int]:
        """Machine messages taken and sent so far, over all links."""
        links = self.links.values()
        return sum(link.recv_seq for link in links), sum(link.sent_seq + len(link.queue) for link in links)

    def stats(self) -> ActorStats:
        received, sent = self.message_counts()
        return ActorStats(
            received=received,
            sent=sent,
            duplicates=sum(link.duplicates for link in self.links.values()),
            gaps=self.gaps,
            malformed=dict(self.malformed),
            unhandled=dict(self.unhandled),
            digest=self.digest.hexdigest(),
            struck=dict(self.struck),
        )

    def note_struck(self, spec: str) -> None:
        """A planned fault struck here once more (so the launcher can say
        which of a plan's faults never did)."""
        self.struck[spec] = self.struck.get(spec, 0) + 1


# pyzmq's Socket.send is a Python wrapper (for SERVER and RADIO sockets)
# around its compiled base's; a push calls the compiled one straight away,
# which saves about a microsecond on every frame sent.
_SEND = zmq.backend.Socket.send


# What decoding a frame may raise: msgspec's errors, and (for a string
# field holding bytes that are not UTF-8) a UnicodeDecodeError.
_DECODE_ERRORS = (msgspec.MsgspecError, UnicodeDecodeError)

_RUNTIME_CONTROL: frozenset[type] = frozenset(schema.RuntimeControl.__args__)  # type: ignore[attr-defined]

_SEQ32 = struct.Struct(">BI").pack  # seq_bytes, inlined on the hot path
_SEQ32_END = 1 << 32

_CONTROL = "control"
# What ``send`` must know about a kind, in one lookup: _CONTROL (a frame of
# its own, unsequenced: control messages and hints), the name of its bulk
# field, or (absent) nothing special.
_SPECIAL: dict[type, str] = {
    t: _CONTROL if t in UNSEQUENCED_TYPES else t.BULK_FIELD  # type: ignore[attr-defined]
    for t in schema.MESSAGE_TYPES
    if t in UNSEQUENCED_TYPES or t.BULK_FIELD is not None  # type: ignore[attr-defined]
}
