"""Every message reel's processes exchange, in one place.

Each message is a msgspec ``Struct`` encoded as a msgpack array whose first
element is its *kind* (the struct's tag). Kinds are grouped below into one
tagged union per link; each message's docstring says who sends it, who
receives it and what it means. The receiver's handler is named after the
message: ``Item`` is handled by ``on_item`` (see ``handler_name``), so any
message's sender, receiver and handler are one search away from here.

Two families:

* **Control** messages belong to the runtime and the launcher (hello,
  heartbeats, end-of-stream, supervision). They carry sequence number 0, are
  handled by the runtime itself (``_on_<name>`` in ``actors._node``) and never
  enter an actor's message digest, because their timing is not part of the
  emulated machine.
* **Machine** messages are the emulated machine's traffic. They are
  sequenced per link and digested; an actor handles them in ``on_<name>``.

Bulk fields (``BULK_FIELD``): a payload of ``BULK_THRESHOLD`` bytes or more
travels as its own ZeroMQ frame, sent without a copy; on receipt the field
holds a read-only ``memoryview`` over that frame instead of ``bytes``.

Kind numbers are the wire identity of a message: never reuse one. Ranges:
1-15 runtime control, 16-31 supervision, 100-199 examples and benchmarks,
200-219 cpu <-> devices, 220-229 block devices, 230-249 record and replay.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Annotated, Any, ClassVar, Union

import msgspec

IdeChannel = Annotated[int, msgspec.Meta(ge=0, le=1)]
"""An IDE channel number (the controller has two). Checked as the message
is decoded: a peer's message naming another is malformed, dropped and
counted like any other, never an index error in a handler."""

BULK_THRESHOLD = 64 * 1024
"""Payloads at least this long travel as their own frame (copy=False)."""


class Control(msgspec.Struct, array_like=True, gc=False):
    """Base of runtime and supervision messages: unsequenced, undigested.

    ``gc=False`` (here and on ``Message``): messages hold only numbers,
    strings, bytes and containers of those, so they can never be part of a
    reference cycle, and skipping the collector's bookkeeping makes them
    cheaper to create and free on the hot path."""

    BULK_FIELD: ClassVar[str | None] = None


class Message(msgspec.Struct, array_like=True, gc=False):
    """Base of machine messages: sequenced per link and digested."""

    BULK_FIELD: ClassVar[str | None] = None


class Hint(msgspec.Struct, array_like=True, gc=False):
    """Base of hints: news whose moment is the host's, not the guest's.

    A hint leaves at once in a frame of its own, unsequenced and
    undigested, as a control message does: when it arrives moves no frame
    edge, number or digest. Unlike a control message, it goes to the
    actor's handler (``on_k``), and not once the run is stopping. So nothing
    the guest sees may depend on a hint but through a checkpoint: it only
    says that one would find something (a digested EventsPending from the
    ide was taken at a poll while recording, and after the checkpoint it
    led to when replaying, and the replay diverged)."""

    BULK_FIELD: ClassVar[str | None] = None


class ActorStats(msgspec.Struct):
    """What an actor counted on the wire; in ``Exited`` and ``StatsReply``."""

    received: int = 0
    sent: int = 0
    duplicates: int = 0
    gaps: int = 0
    malformed: dict[str, int] = {}
    unhandled: dict[str, int] = {}
    digest: str = ""
    struck: dict[str, int] = {}  # planned fault (its spec) -> how often it struck in this actor


# --- runtime control: any actor <-> any actor (and the launcher) ------------


class Hello(Control, tag=1):
    """Any node -> each peer, first on every link. Frozen: its encoding is
    what ``PROTOCOL_VERSION`` names. The receiver refuses a peer whose
    protocol or schema hash differs from its own (``Failed`` to the launcher,
    naming both actors and both values)."""

    actor: str
    protocol: int
    schema: str


class Heartbeat(Control, tag=2):
    """Any node -> each peer, when it has sent nothing else for a heartbeat
    interval. Any message counts as a sign of life; this one is for quiet
    links."""


class EndOfStream(Control, tag=3):
    """Any node -> each peer when stopping: "I send nothing after message
    ``last_seq``". The peer answers ``EndOfStreamAck``; a socket is closed only
    once its end-of-stream is acknowledged, so nothing queued is lost."""

    last_seq: int


class EndOfStreamAck(Control, tag=4):
    """Peer -> the node that sent ``EndOfStream``: every message up to
    ``last_seq`` arrived."""

    last_seq: int


class DigestRequest(Control, tag=5):
    """Logger (or any node) -> an actor: report your message digest now."""

    token: int


class DigestReply(Control, tag=6):
    """Actor -> the node that sent ``DigestRequest``: the running digest of the
    machine messages this actor received and sent, in order."""

    token: int
    digest: str
    received: int
    sent: int


RuntimeControl = Union[Hello, Heartbeat, EndOfStream, EndOfStreamAck, DigestRequest, DigestReply]


# --- supervision: launcher <-> actor -----------------------------------------


class Ready(Control, tag=16):
    """Actor -> launcher, once its inbox is bound: where peers reach it."""

    actor: str
    endpoint: str
    pid: int


class Wire(Control, tag=17):
    """Launcher -> actor, when every actor is Ready: the endpoint of each of
    the actor's peers. The actor connects and says Hello to each."""

    endpoints: dict[str, str]


class Connected(Control, tag=18):
    """Actor -> launcher: every peer's Hello arrived and matched."""

    actor: str


class Start(Control, tag=19):
    """Launcher -> actor, when every actor is Connected: begin work."""


class Stop(Control, tag=20):
    """Launcher -> actor: end the run. ``lost`` names peers known dead, whose
    end-of-stream the actor must not wait for."""

    reason: str
    lost: list[str] = []


class Finished(Control, tag=21):
    """Actor -> launcher: the run's work is done with exit ``code`` (0 =
    success); ``report`` carries results (benchmark figures, counts)."""

    code: int
    reason: str
    report: dict[str, Any] = {}


class Failed(Control, tag=22):
    """Actor -> launcher: the actor cannot go on (refused handshake, lost
    message, lost peer, handler error); the launcher stops the run."""

    reason: str
    output: bool = False  # what failed is reel's output (the replay log): the run exits 74, not 70
    peer: str = ""  # the peer it is about, when one was lost or stuck (the launcher blames its faults)
    silent: bool = False  # that peer fell silent past the liveness bound: the news is the peer


class Exited(Control, tag=23):
    """Actor -> launcher, last message before the process exits."""

    stats: ActorStats


class StatsRequest(Control, tag=24):
    """Launcher (or any node) -> actor: report your wire statistics."""

    token: int


class StatsReply(Control, tag=25):
    """Actor -> the node that sent ``StatsRequest``."""

    token: int
    stats: ActorStats


Supervision = Union[Ready, Wire, Connected, Start, Stop, Finished, Failed, Exited, StatsRequest, StatsReply]


# --- examples: the bundled chain (source -> relay -> sink) -------------------


class Item(Message, tag=100):
    """Chain source -> relay -> sink: the ``n``-th item of the stream."""

    BULK_FIELD: ClassVar[str | None] = "data"
    n: int
    data: bytes


class Done(Message, tag=101):
    """Chain source -> relay -> sink after the last Item: how many were sent
    and the xxh3-128 digest of their (n, data) in order, for the sink to
    check."""

    count: int
    digest: str


ChainLink = Union[Item, Done]


# --- benchmarks and liveness probes (bench client <-> echo server) -----------


class Ping(Message, tag=110):
    """Client -> echo server: answer with a Pong carrying the same fields."""

    BULK_FIELD: ClassVar[str | None] = "data"
    n: int
    data: bytes


class Pong(Message, tag=111):
    """Echo server -> client: the answer to Ping ``n``."""

    BULK_FIELD: ClassVar[str | None] = "data"
    n: int
    data: bytes


class Flood(Message, tag=112):
    """Bench client -> echo server, one-way: ``n`` counts down to 0; the echo
    server answers the message with ``n == 0`` by a FloodDone."""

    BULK_FIELD: ClassVar[str | None] = "data"
    n: int
    data: bytes


class FloodDone(Message, tag=113):
    """Echo server -> bench client: ``received`` Flood messages arrived."""

    received: int


class RawPhase(Message, tag=114):
    """Bench client -> echo server: leave the runtime for a raw pyzmq loop of
    ``count`` messages of ``size`` bytes in ``mode`` ("rt" echoes each one,
    "rt-awake" too, waiting awake as the runtime does, "flood" counts them
    and answers the last), then come back."""

    mode: str
    count: int
    size: int


Bench = Union[Ping, Pong, Flood, FloodDone, RawPhase]


# --- cpu <-> device (the IDE window): MMIO, DMA, interrupt lines ------------------
#
# Device effects on the cpu happen only in synchronous windows: while the cpu
# waits for an MmioValue or MmioDone it serves DmaRead/DmaWrite/IrqLevel in
# the order they come; otherwise it takes them at its next poll.


class MmioRead(Message, tag=200):
    """cpu -> device: the guest reads ``size`` bytes at ``offset`` of the
    device's window. The cpu waits for the MmioValue."""

    offset: int
    size: int


class MmioValue(Message, tag=201):
    """device -> cpu: the value an MmioRead returned."""

    value: int


class MmioWrite(Message, tag=202):
    """cpu -> device: the guest writes ``value`` (``size`` bytes) at
    ``offset``. Posted (the guest goes on at once) unless ``sync``: a write
    that may start DMA from guest memory, answered by MmioDone once the
    device has acted on it."""

    offset: int
    size: int
    value: int
    sync: bool = False


class MmioDone(Message, tag=203):
    """device -> cpu: a ``sync`` MmioWrite has been acted on."""


class DmaRead(Message, tag=204):
    """device -> cpu: read ``length`` bytes of guest memory at ``address``;
    the cpu answers DmaData."""

    address: int
    length: int


class DmaData(Message, tag=205):
    """cpu -> device: the bytes a DmaRead asked for (empty with ``error``
    set when the range is not RAM)."""

    BULK_FIELD: ClassVar[str | None] = "data"
    address: int
    data: bytes
    error: str = ""


class DmaWrite(Message, tag=206):
    """device -> cpu: write ``data`` to guest memory at ``address``. No
    answer: messages on a link stay in order, so anything the device sends
    after it sees the data written."""

    BULK_FIELD: ClassVar[str | None] = "data"
    address: int
    data: bytes


class DmaScatter(Message, tag=215):
    """device -> cpu: write ``data`` to guest memory in pieces: the first
    ``ranges[0][1]`` bytes at ``ranges[0][0]``, the next ones at
    ``ranges[1][0]``, and so on (a PRD table's regions). One message, one
    bulk frame, however many regions. No answer, as for DmaWrite.

    ``parked`` >= 0: the data is not in this message (``data`` is empty) but
    is what disk request ``parked`` read, which the image sent the cpu
    itself (BlockRequest.data_to); should it still be on its way, the cpu
    waits for it here. The ide sends exactly one such DmaScatter for each
    of those requests (``ranges`` empty when nothing of the data reaches
    memory: the disk failed, a reset or the guest's stopping the bus master
    ended the command, or the request is not the command's any more), and
    the cpu lets the data go after it."""

    BULK_FIELD: ClassVar[str | None] = "data"
    ranges: list[tuple[int, int]]
    data: bytes
    parked: int = -1


class IrqLevel(Message, tag=207):
    """device -> cpu: interrupt line ``line`` (a PLIC source) is now high or low."""

    line: int
    high: bool


class DmaStart(Message, tag=208):
    """cpu -> ide: the guest changed the start bit of ``channel``'s bus
    master from 0 to 1 (it wrote ``command`` to the bus-master command
    register; a write that keeps the bit set is a plain MmioWrite). The cpu's
    side of the window attaches what the device would read from guest
    memory at this moment: ``prd``, the PRD table as it stands, and for a
    memory-to-device transfer ``data``, the bytes the table points to.
    Posted: since what the device reads of guest memory comes with it,
    taken at this instant, the cpu need not wait (it pushes the message at
    once instead). ``reach``: how many bytes of the table's regions, from
    its start, lie in guest memory, when one does not (-1: all do); the
    device's access past it fails, as a PCI master abort would."""

    BULK_FIELD: ClassVar[str | None] = "data"
    channel: IdeChannel
    command: int
    prd: bytes
    data: bytes
    reach: int = -1


class PioFill(Message, tag=209):
    """ide -> cpu: ``channel``'s data register now reads ``data`` (PIO data
    in, one DRQ block). The cpu serves the guest's data reads from it and
    posts PioDrained when it is empty: no message per data access. A read
    that reached the ide after it offered the block (the guest did not wait
    for DRQ) was answered from the ide's copy: the cpu takes those bytes
    from its copy too when that read's MmioValue comes."""

    BULK_FIELD: ClassVar[str | None] = "data"
    channel: IdeChannel
    transfer: int
    data: bytes


class PioDrained(Message, tag=210):
    """cpu -> ide: the guest read the whole PioFill block ``transfer``."""

    channel: IdeChannel
    transfer: int


class PioExpect(Message, tag=211):
    """ide -> cpu: collect ``length`` bytes of the guest's data-register
    writes on ``channel`` (PIO data out, one DRQ block), then post them in
    a PioData. Writes the cpu posted before it saw this one reach the ide,
    which takes them into the block itself and sends PioExpect again for
    the same ``transfer`` with the bytes still missing: the cpu collects
    that many (those it has already count)."""

    channel: IdeChannel
    transfer: int
    length: int


class PioData(Message, tag=212):
    """cpu -> ide: the bytes the guest wrote for PioExpect ``transfer``,
    after those the ide took itself."""

    BULK_FIELD: ClassVar[str | None] = "data"
    channel: IdeChannel
    transfer: int
    data: bytes


class RegisterSnapshot(Message, tag=213):
    """ide -> cpu: a command on ``channel`` ended; its status, error and
    bus-master status registers (of drive ``slave``) read as given, and its
    interrupt is ``pending``, until the cpu next writes a command or device
    control to the channel or selects the other drive. The cpu answers reads
    of them from this (sent just before the IrqLevel that announces it)."""

    channel: IdeChannel
    slave: bool
    status: int
    error: int
    bm_status: int
    pending: bool


class InterruptAck(Message, tag=214):
    """cpu -> ide: the guest read ``channel``'s status register from the
    snapshot, which acknowledges the interrupt; the cpu has lowered the
    line itself."""

    channel: IdeChannel


class IdleQuery(Message, tag=216):
    """cpu -> ide (no record, no replay): the hart has idled in wfi a while,
    waiting for an external interrupt, and nothing came; is a disk request
    in flight that could still bring one? Answered by IdleReply."""


class IdleReply(Message, tag=217):
    """ide -> cpu: ``in_flight`` disk requests are outstanding (0: nothing
    the ide does will interrupt until the guest acts)."""

    in_flight: int


DeviceLink = Union[MmioRead, MmioValue, MmioWrite, MmioDone, DmaRead, DmaData, DmaWrite, DmaScatter, IrqLevel, DmaStart,
                   PioFill, PioDrained, PioExpect, PioData, RegisterSnapshot, InterruptAck, IdleQuery, IdleReply]


# --- ide <-> disk image (later: through blkreplay) ------------------------------


class BlockRequest(Message, tag=220):
    """ide (or blkreplay) -> image: do ``op`` ("read", "write" or "flush")
    on ``length`` bytes at byte ``offset``; ``data`` holds what to write.
    ``id`` names the request in its completion; ``disk`` says which of the
    sender's drives it is for (blkreplay serves them all). ``data_to``, if
    set, names a peer that gets what a read read, in a BlockCompletion of
    its own sent right after the sender's, which comes without the data:
    the ide has a large DMA read's data go straight to the cpu, whose memory
    it is for, sparing it a hop (see DmaScatter.parked)."""

    BULK_FIELD: ClassVar[str | None] = "data"
    id: int
    op: str
    offset: int
    length: int
    data: bytes = b""
    disk: int = 0
    data_to: str = ""


class BlockCompletion(Message, tag=221):
    """image -> ide (or blkreplay, and the request's ``data_to``): request
    ``id`` is done. ``status`` is 0 on success, else an errno value, with
    ``error`` saying what failed; ``data`` holds what a read read (empty
    for the sender of a request with a ``data_to``)."""

    BULK_FIELD: ClassVar[str | None] = "data"
    id: int
    status: int
    data: bytes = b""
    error: str = ""


MAX_STATUS = (1 << 31) - 1
"""The largest errno value (a C int): a BlockCompletion's status beyond it,
or below 0, is a disk's wrong answer, and no log holds one."""


def wrong_status(msg: BlockCompletion, src: str) -> str:
    """What is wrong with ``msg``'s status ("" if nothing)."""
    if 0 <= msg.status <= MAX_STATUS:
        return ""
    return f"{src} answered request {msg.id} with status {msg.status}, which is neither 0 nor an errno value"


class DiskDigestRequest(Message, tag=222):
    """logger -> image: report the digest of the disk's whole content."""


class DiskDigest(Message, tag=223):
    """image -> logger: xxh3-128 of the disk's content, and its size."""

    digest: str
    size: int


class Drain(Message, tag=224):
    """cpu -> ide -> blkreplay -> image (or ide -> image): the guest has
    exited (or a direct run reached its instruction bound). Each passes it on behind every request it sent before, once it
    holds none back (blkreplay's overlapping or fate-awaiting ones); the
    image answers Drained once every request that came before this one is
    done. So the disks' final content, which the logger digests next, holds
    every write the guest issued, whatever the disks' timing (as QEMU
    drains its block devices when it quits)."""


class Drained(Message, tag=225):
    """image -> blkreplay or ide, blkreplay -> ide, ide -> cpu: the answer
    to Drain, once every disk behind the sender has answered it.
    ``undelivered``: recording, the (request id, status) of every
    completion blkreplay holds that no checkpoint delivered, in arrival
    order; passed on up to the cpu, which ends the log with them (GuestExit),
    so that a replay fails again, without the disk, what failed then."""

    undelivered: list[tuple[int, int]] = []


BlockLink = Union[BlockRequest, BlockCompletion, DiskDigestRequest, DiskDigest, Drain, Drained]


# --- record and replay: cpu, ide, blkreplay, logger ---------------------------
#
# A checkpoint is (seq, icount): the cpu stops there, blkreplay hands the
# completions of that checkpoint to the ide in one order, the ide applies
# them (DMA, registers, interrupt line) and tells the cpu, which goes on.
# The logger records (or, replaying, prescribes) the events and compares
# every actor's digest, off the critical path.


class EventsPending(Hint, tag=230):
    """A hint (see Hint). blkreplay -> cpu (recording): completions are
    queued for checkpoint ``seq``; make it soon. ide -> cpu (recording or
    replaying): something the ide did on its own (an interrupt for a
    command that ended at once, a PIO block to read) waits for checkpoint
    ``seq`` or the cpu's next synchronous access. (One that comes after the
    cpu made checkpoint ``seq`` is stale: that checkpoint took them.)"""

    seq: int


class Checkpoint(Message, tag=231):
    """cpu -> ide -> blkreplay: stopped at ``icount``; deliver checkpoint
    ``seq``'s completions now (recording: the queue, or, when it is empty,
    the first completion to come if one is in flight, within its Patience
    if it has one; replaying: what Expect said). The ide hands the cpu what
    it held first."""

    seq: int
    icount: int


class Patience(Message, tag=243):
    """cpu -> blkreplay (recording): checkpoint ``seq``, on its way through
    the ide, waits at most ``seconds`` for a first completion, then settles
    with none: the cpu idles with its timer armed, and the timer wins then.
    (On an undigested link: a replay has no such wait to make. It may come
    before or after that checkpoint; one for a checkpoint already settled
    is stale.)"""

    seq: int
    seconds: float


class Settle(Message, tag=232):
    """blkreplay -> ide, after checkpoint ``seq``'s BlockCompletions: when
    they are applied, tell the cpu (Settled) and the logger (Recorded).
    ``icount`` and ``events`` are the checkpoint's, as Recorded has them;
    the same when replaying (what Expect prescribed), so the ide's digest
    is too."""

    seq: int
    icount: int = 0
    events: list[tuple[int, int]] = []


class Settled(Message, tag=233):
    """ide -> cpu: checkpoint ``seq``'s ``delivered`` completions are applied;
    everything they did to the cpu (DMA, registers, interrupt) came before
    this, and so did everything the ide did before the checkpoint reached it
    (an interrupt for a command that failed at once, say)."""

    seq: int
    delivered: int = 0


class Recorded(Message, tag=234):
    """ide -> logger: checkpoint ``seq`` at ``icount`` delivered ``events``,
    (request id, status) in delivery order. blkreplay chose them and told
    the ide (Settle); the ide relays them in the frame that carries its
    CheckpointDigest, so that the logger is woken once per checkpoint, not
    twice. (Replaying, they are what the log prescribed.)"""

    seq: int
    icount: int
    events: list[tuple[int, int]]


class RunTo(Message, tag=235):
    """logger -> cpu (replaying): run to exactly ``icount`` and checkpoint
    there as ``seq``. ``seq`` -1: the recording ended normally at ``icount``
    (run on to the guest's exit); -2: the log ends there without an end
    record (stop at it and report)."""

    seq: int
    icount: int


class Expect(Message, tag=236):
    """logger -> blkreplay (replaying): checkpoint ``seq`` delivers
    ``events``, (request id, status) in this order; wait for late ones,
    hold early ones, and give the guest the recorded status. ``seq`` -1:
    the recording delivers nothing more; ``events`` are then the requests
    its disks answered after the guest's exit, undelivered, and requests
    listed nowhere succeed."""

    seq: int
    events: list[tuple[int, int]]


class CheckpointDigest(Message, tag=237):
    """cpu, ide, blkreplay -> logger: the sender's running digest as it
    stood at checkpoint ``seq`` (cpu: on Settled; ide: on Settle;
    blkreplay: when it delivered). The ide sends one at every checkpoint
    (the log keeps its first byte); the cpu and blkreplay only where
    ``sealed`` says the log keeps every actor's full digest."""

    seq: int
    digest: str


def sealed(seq: int, digest_every: int) -> bool:
    """Whether the log seals after checkpoint ``seq``: every
    ``digest_every`` checkpoints, the log keeps every actor's full digest."""
    return (seq + 1) % digest_every == 0


class GuestExit(Message, tag=238):
    """cpu -> logger: the guest exited with ``code`` at ``icount``; its final
    state and memory digests."""

    icount: int
    code: int
    state: str
    memory: str
    checkpoints: int  # how many the run made (the recording's log ends after as many)
    undelivered: list[tuple[int, int]] = []  # completions no checkpoint delivered (Drained)
    console_error: str = ""  # why the guest's console could not be written, if it could not (not a closed reader)


class ReplayStuck(Message, tag=239):
    """blkreplay -> logger (replaying): waited longer than the bound for
    checkpoint ``seq``'s events; ``what`` says for which, and what is in flight."""

    seq: int
    what: str


class ReplayBackendFailed(Message, tag=242):
    """blkreplay -> logger (replaying): a request the recording saw succeed
    failed now, in checkpoint ``seq``; its data cannot be given to the
    guest, so the replay cannot go on as recorded. ``what`` names it."""

    seq: int
    what: str


class ReplayDiverged(Message, tag=244):
    """cpu or blkreplay -> logger (replaying): the guest did what the
    recording did not, which no digest shows yet: the cpu sees it exit
    early, run past the recording's exit, or wait where the recording made
    no checkpoint; blkreplay sees it make a request the recording never
    made. ``what`` says what. The logger ends the replay as diverged, as
    for any divergence."""

    what: str


class RecentRequest(Message, tag=240):
    """logger -> cpu, ide or blkreplay (replaying, at a divergence): send
    me the digested messages you exchanged most recently."""


class Recent(Message, tag=241):
    """Actor -> logger: its most recent digested messages, oldest first,
    one line each (direction, peer, message)."""

    lines: list[str]


Replay = Union[EventsPending, Checkpoint, Patience, Settle, Settled, Recorded, RunTo, Expect, CheckpointDigest,
               GuestExit, ReplayStuck, ReplayBackendFailed, ReplayDiverged, RecentRequest, Recent]


AnyMessage = Union[RuntimeControl, Supervision, ChainLink, Bench, DeviceLink, BlockLink, Replay]
"""Every kind that may appear on the wire."""

CONTROL_TYPES: frozenset[type] = frozenset(RuntimeControl.__args__ + Supervision.__args__)  # type: ignore[attr-defined]
MESSAGE_TYPES: tuple[type, ...] = AnyMessage.__args__  # type: ignore[attr-defined]
UNSEQUENCED_TYPES: frozenset[type] = CONTROL_TYPES | {t for t in MESSAGE_TYPES if issubclass(t, Hint)}
"""What travels alone in a frame of sequence number 0, outside the digests."""


def kind_of(msg_type: type) -> int:
    """The wire kind (tag) of a message type."""
    return msg_type.__struct_config__.tag  # type: ignore[attr-defined]


def handler_name(msg_type: type) -> str:
    """``Item`` -> ``on_item``; ``EndOfStreamAck`` -> ``on_end_of_stream_ack``."""
    return "on_" + re.sub(r"(?<!^)(?=[A-Z])", "_", msg_type.__name__).lower()


def schema_hash(types: tuple[type, ...] = MESSAGE_TYPES) -> str:
    """A short hash of the wire shape of ``types``: kinds, field names and
    field types, and which kinds travel unsequenced; docstrings do not count."""
    shape = {"kinds": msgspec.json.schema(Union[types]),
             "unsequenced": sorted(kind_of(t) for t in types if t in UNSEQUENCED_TYPES)}

    def strip(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if k not in ("description", "title")}
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node

    text = json.dumps(strip(shape), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


SCHEMA_HASH = schema_hash()
"""This build's schema hash, exchanged in Hello."""

FRAMING = 3
"""Bumped whenever the actors cut their frames elsewhere with the same
messages: frame edges enter the digests (actors._node), so a replay's can
match its recording's only if both cut alike. 2: a bus-master start goes in
its checkpoint's frame, and a poll due where a checkpoint is comes first.
3: EventsPending is a hint, outside frames and digests."""

MACHINE = 4
"""Bumped whenever the machine does something else for the same guest and
the same disk timing (a device's guest-visible behaviour, what ends a run):
a replay of an older recording could diverge, or end with other disks,
where the guest depends on it. 2: the bus master starts only when its start
bit changes from 0 to 1; the guest's exit waits up to 300 s, not 30, for
its disks' last writes. 3: a disk's failure sets no bus-master error bit
(a master abort's alone), and a failed write reports ABRT, not UNC; a
recording makes no checkpoint at a wfi's icount after the hart's time
jumped there, and a replay makes every checkpoint at that icount before
it decides the jump. 4: IDENTIFY gives a disk smaller than two cylinders
two (as QEMU does), not 0."""

DIGESTS_ID = f"{SCHEMA_HASH}.{FRAMING}.{MACHINE}"
"""What a log keeps of the reel that recorded it, so that a replay by a reel
whose digests could not match, or whose machine behaves otherwise, is
refused (launch.recording)."""


def _check_kinds_unique() -> None:
    seen: dict[int, str] = {}
    for t in MESSAGE_TYPES:
        kind = kind_of(t)
        if kind in seen:
            raise TypeError(f"kind {kind} used by both {seen[kind]} and {t.__name__}")
        seen[kind] = t.__name__


_check_kinds_unique()
