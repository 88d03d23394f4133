"""The RV32IM machine: a hart, its RAM and devices, and the run loop.

Determinism. The machine's state is a function of the program and of what
devices report at exact icounts, whatever the mix of translated blocks,
interpreted ones and single steps that got it there (for code that is not
changed without a ``FENCE.I``: each of them keeps the instruction words it
first read until one):

* interrupts are taken only at points fixed by the instruction stream: after
  an instruction that may have made one due (a CSR write or ``mret`` that
  changed interrupt state or the timer deadline, a PLIC write that left a
  source deliverable, a device access whose synchronous window made a
  source pending), at the timer deadline (an exact stop), or where the run
  loop looks (a stop);
* device effects on the hart happen only inside synchronous windows (a
  device access, or ``poll``/``idle`` which the owner makes checkpoints of).

Polls happen exactly every ``poll_every`` instructions, or sooner where a
device access asks (``poll_within``; the ones after it follow on from
there), and ``run(limit)`` stops exactly at ``limit``.
"""

from __future__ import annotations

from typing import Callable

import xxhash

from . import isa
from .bus import RAM_BASE, Bus, Device
from .codecache import CodeCache
from .devices import Clint, ExitDevice, Plic, Uart
from .elf import Program, check_fits
from .hart import M32, MIP_MEIP, MIP_MSIP, MIP_MTIP, MSTATUS_MIE, Completed, Hart, Trap, csr_writes
from .translate import MAX_BLOCK, Translator

INTERRUPT_CSRS = frozenset({0x300, 0x304, 0x344})  # mstatus, mie, mip
DIGEST_CHUNK = 64 << 20
"""RAM hashed between two calls of memory_digest's ``between``."""


class GuestHung(Exception):
    """The guest waits (``wfi``) with no interrupt that could ever wake it."""


def _trap_loop(trap: Trap, pc: int) -> str:
    """Why an exception at the trap handler's own address ends the run: the
    instruction that raised it wrote nothing and retires nothing, and the
    trap cleared mstatus.MIE, so it runs again in the same state, forever,
    with icount standing still (no poll, no limit would ever come)."""
    return (f"trap loop: the instruction at {pc:#010x}, where mtvec sends every exception, raises mcause "
            f"{trap.cause} (mtval {trap.tval & M32:#x}) itself, so the guest can make no progress")


class IrqChange(Completed):
    """An instruction after which the run loop must look for a due
    interrupt at once, raised by the instruction itself: a device access
    during which a source became pending, or the owner asked to stop
    ("irq"), or a CSR write that made an interrupt due or moved the
    timer deadline ("csr"). It retired; what it still has to write
    to its destination register (a load's value, a CSR's old value) is in
    ``rd`` and ``value``, since the block that raised it writes back its
    registers as they stood before it.

    The load's value is final here, extended as the instruction that ran
    says: memory may have changed under the load while it waited (the cpu
    serves DMA meanwhile), so its word is not read again."""

    def __init__(self, reason: str, rd: int = 0, value: int = 0) -> None:
        super().__init__(reason)
        self.rd = rd
        self.value = value


def _loaded(word: int, value: int) -> tuple[int, int]:
    """(rd, value as written) for load instruction ``word`` that read ``value``."""
    insn = isa.decode(word)
    size, signed = isa.LOADS[insn.op]
    if signed and value & (1 << (8 * size - 1)):
        value = (value - (1 << (8 * size))) & M32
    return insn.rd, value


IDLE_TICKS_PER_SECOND = 10_000_000
"""mtime's nominal rate while the hart idles: the 10 MHz timebase of QEMU's
virt board, which guests written for it assume."""

MAX_IDLE_SECONDS = 1.0
"""The longest the hart, idle with its timer armed, waits for a device
before time jumps to the timer's deadline."""


class Machine:
    """One hart with RAM at 0x80000000 and the board's devices.

    ``console(byte)`` receives UART output. ``poll()`` is called every
    ``poll_every`` instructions, or sooner where a device asks
    (``poll_within``; the owner looks at its inbox and flushes there).
    ``idle()`` is called when the hart waits for an external interrupt and
    nothing else can happen; it returns when something may have changed.
    ``before_idle()`` is called first whenever the hart is about to idle (a
    checkpoint may be due there). ``idle_for(seconds)`` is called when the
    timer could wake it and so could a device: it returns when something
    may have changed or when ``seconds`` have passed. Setting
    ``wants_stop`` (from a poll, or while a device access waits) makes the
    machine call ``stop_hook()`` at the next instruction boundary: right
    after that access, or at the next poll.
    """

    def __init__(self, ram_size: int = 16 << 20, console: Callable[[int], None] = lambda b: None,
                 poll: Callable[[], None] | None = None, idle: Callable[[], None] | None = None,
                 poll_every: int = 65536, devices: tuple[Device, ...] = (),
                 stop_hook: Callable[[], None] | None = None,
                 before_idle: Callable[[], None] | None = None,
                 idle_for: Callable[[float], None] | None = None,
                 code_cache: CodeCache | None = None) -> None:
        self.icount = [0]
        self.fault_index = [0]  # index in its block of the instruction that raised
        # Instructions a running block has retired but not yet added to
        # icount; non-zero only during a device access from translated code.
        self.in_block = [0]
        self.regs = [0] * 32
        self.pc = RAM_BASE
        self.poll = poll
        self.idle = idle
        self.stop_hook = stop_hook  # called at the next instruction boundary once wants_stop is set
        self.before_idle = before_idle  # called when the hart is about to idle in wfi
        self.idle_for = idle_for  # waits for a device at most so many seconds, before the timer's jump
        self.wants_stop = False
        self.poll_every = poll_every
        self.next_poll = poll_every
        self.usual_poll: int | None = None  # while poll_within has brought next_poll forward, what it was
        self.wfi = False
        self.irq_changed = False
        self.deadline_in_force: int | None = None  # the timer deadline the running stop was computed with
        self.interrupts_taken = 0
        self.interrupt_log: list[tuple[int, int]] = []  # (icount, cause), the first INTERRUPT_LOG
        self.exit_device = ExitDevice()
        self.clint = Clint(self.icount, self.in_block)
        self.plic = Plic(self._irq_changed)
        self.uart = Uart(console, self.plic)
        self.bus = Bus(ram_size, [self.exit_device, self.clint, self.plic, self.uart, *devices])
        self.hart = Hart(self.icount, self._device_mip, self.clint.mtime)
        self._system_ops: dict[int, Callable[[int], int]] = {}  # instruction word -> what runs it
        self.translator = Translator(self.bus.fetch, self.bus.in_ram, {
            "W32": self.bus.words, "H16": self.bus.halves, "B8": self.bus.octets, "RAMSIZE": ram_size,
            "LD": self._load, "ST": self._store, "SYS": self._system, "C": self.icount, "IX": self.fault_index,
        }, csr_in_block=lambda word: self._csr_operation(isa.decode(word), word), cache=code_cache)

    INTERRUPT_LOG = 1000

    # --- loading -----------------------------------------------------------------

    def load(self, program: Program) -> None:
        check_fits(program, RAM_BASE, self.bus.ram_size, "program")
        for segment in program.segments:
            self.bus.write_ram(segment.address, segment.data)
            self.bus.write_ram(segment.address + len(segment.data), bytes(segment.memsize - len(segment.data)))
        self.pc = program.entry
        self.translator.flush()

    # --- running -----------------------------------------------------------------

    @property
    def exit_code(self) -> int | None:
        return self.exit_device.code

    def run(self, limit: int | None = None) -> str:
        """Run until the guest exits ("exit") or icount reaches ``limit``
        exactly ("limit")."""
        icount = self.icount
        while True:
            if self.exit_device.code is not None:
                return "exit"
            now = icount[0]
            if now >= self.next_poll:
                # A poll due here comes before anything else done here (a
                # checkpoint, above all): it flushes what the cpu queued, and
                # frame edges enter the digests, so a recording, which may
                # checkpoint here because of what this poll brings, and its
                # replay, which checkpoints here because the log says so,
                # must poll at the same point of the same icount.
                self.next_poll, self.usual_poll = now + self.poll_every, None
                if self.poll is not None:
                    self.poll()
                continue
            if self.wants_stop and self.stop_hook is not None:
                self.wants_stop = False
                self.stop_hook()
                continue
            # A run that reaches its limit returns before it takes an
            # interrupt there: a replay checkpoints at its limit, and the
            # recording checkpointed (stop_hook, just above) before it took
            # one; what the checkpoint raises may go first.
            if limit is not None and now >= limit:
                return "limit"
            cause = self.hart.interrupt_due()
            if cause is not None:
                self._take_interrupt(cause)
            elif self.wfi:
                self._wait_for_interrupt()
                continue
            hard = limit
            deadline = self.deadline_in_force = self._timer_deadline()
            if deadline is not None and (hard is None or deadline < hard):
                hard = deadline
            self._execute(self.next_poll, hard)

    def _execute(self, soft: int, hard: int | None) -> None:
        """Run until icount reaches ``soft`` (the next poll) or ``hard``
        (a limit, a timer deadline), whichever comes first, exactly, one
        block after another: a compiled one runs as many of its labels as
        fit whole and stops by itself; the interpreter runs the rest (a block
        not yet hot, or a first label that does not fit) up to the end. (A
        replay's checkpoints mostly lie a few instructions past the end of
        a long label: single steps all the way there had cost a replay of
        diskqd1 a fifth of the cpu's time.)

        Exactly, and not "a block or so past ``soft``", because a poll
        flushes what the cpu has queued, and the edges of its frames enter
        the digests: a replay, which runs to each checkpoint's icount, must
        poll at the same icounts as the recording, which ran freely."""
        icount, regs = self.icount, self.regs
        blocks, compiled, interpret = self.translator.blocks, self.translator.compiled, self.translator.interpret
        end = soft if hard is None else min(soft, hard)
        pc = self.pc
        try:
            while (now := icount[0]) < end:
                block = blocks.get(pc) or compiled(pc)  # (compiled(pc) counts this run, and compiles when hot)
                if block is not None:
                    pc = block(regs, end)
                    if icount[0] != now:
                        continue
                pc = interpret(pc, regs, end, min(MAX_BLOCK, end - now))
        except Trap as e:
            faulting = getattr(e, "reel_pc", pc)
            pc = self.hart.trap(e.cause, e.tval, faulting)
            if pc == faulting:
                self.pc = pc
                raise GuestHung(_trap_loop(e, pc)) from None
        except Completed as e:
            pc = self._retire(e, getattr(e, "reel_pc", pc))
        except BaseException as e:
            self.pc = getattr(e, "reel_pc", pc)
            raise
        self.pc = pc

    def _retire(self, e: Completed, pc: int) -> int:
        """The instruction at ``pc`` raised Completed: it retired."""
        self.icount[0] += 1
        self.irq_changed = False  # the run loop looks for a due interrupt next, whatever the reason
        if isinstance(e, IrqChange) and e.rd:
            self.regs[e.rd] = e.value
        if e.reason == "wfi":
            self.wfi = True
        return e.next_pc if e.next_pc is not None else (pc + 4) & M32

    def _take_interrupt(self, cause: int) -> None:
        self.wfi = False
        if len(self.interrupt_log) < self.INTERRUPT_LOG:
            self.interrupt_log.append((self.icount[0], cause))
        self.interrupts_taken += 1
        self.pc = self.hart.trap(cause, 0, self.pc)

    def _timer_deadline(self) -> int | None:
        """The icount at which a timer interrupt becomes takeable, if one can."""
        if not (self.hart.mstatus & MSTATUS_MIE and self.hart.mie & MIP_MTIP):
            return None
        return self.clint.deadline_icount()

    def _wait_for_interrupt(self) -> None:
        """``wfi`` with nothing pending: skip ahead to the timer deadline if
        the timer can wake the hart, else wait for the outside world."""
        if self.hart.may_wake():
            self.wfi = False
            return
        if self.before_idle is not None:
            self.before_idle()
            if self.hart.may_wake() or self.exit_device.code is not None:
                return
        mie = self.hart.mie
        deadline = self.clint.deadline_icount() if mie & MIP_MTIP else None
        if deadline is not None:
            ticks = deadline - self.icount[0]
            if mie & MIP_MEIP and ticks and self.idle_for is not None:
                # A device may interrupt before the timer: it gets the wall
                # time those ticks stand for, or the jump would beat every
                # disk to any armed timer (a driver's timeout, say).
                self.idle_for(min(ticks / IDLE_TICKS_PER_SECOND, MAX_IDLE_SECONDS))
                if self.hart.may_wake() or self.exit_device.code is not None:
                    return
            self.clint.idle_ticks += ticks
            return
        if mie & (MIP_MEIP | MIP_MSIP) and self.idle is not None:
            self.idle()
            return
        raise GuestHung(f"the guest waits (wfi at {self.pc - 4:#010x}) with no interrupt that could wake it "
                        f"(mie {mie:#x}, mtimecmp {self.clint.mtimecmp:#x})")

    def poll_within(self, instructions: int) -> None:
        """Poll at most ``instructions`` after the instruction running now
        (a device access asks: its block ends after it, so that the run
        loop sees the nearer poll at once). Counted from an exact icount,
        so a replay polls where its recording did."""
        due = self.icount[0] + self.in_block[0] + 1 + instructions
        if due < self.next_poll:
            if self.usual_poll is None:
                self.usual_poll = self.next_poll
            self.next_poll = due
            self.irq_changed = True  # (the flag that ends the block after the access, so the run loop looks again)

    def poll_as_usual(self) -> None:
        """What a poll was brought forward for is done otherwise (a
        checkpoint flushed it): the next poll is the one it would have been."""
        if self.usual_poll is not None:
            self.next_poll, self.usual_poll = self.usual_poll, None

    # --- what translated code calls ------------------------------------------------

    def _device_mip(self) -> int:
        return self.clint.mip() | self.plic.mip()

    def _irq_changed(self) -> None:
        self.irq_changed = True

    def _load(self, address: int, size: int, index: int, retired: int, word: int) -> int:
        """A load the translated fast path did not take. ``index`` is the
        instruction's place in its block, ``retired`` how many instructions
        the block retired before it: during the access icount is exact.
        ``word`` is the load instruction itself."""
        self.fault_index[0] = index
        self.in_block[0] = retired
        try:
            value = self.bus.load(address, size)
        finally:
            self.in_block[0] = 0
        if self.irq_changed or self.wants_stop:
            self.irq_changed = False
            raise IrqChange("irq", *_loaded(word, value))
        return value

    def _store(self, address: int, size: int, value: int, index: int, retired: int) -> None:
        self.fault_index[0] = index
        self.in_block[0] = retired
        try:
            self.bus.store(address, size, value)
        finally:
            self.in_block[0] = 0
        if self.irq_changed or self.wants_stop:
            self.irq_changed = False
            raise IrqChange("irq")

    def _system(self, pc: int, word: int) -> int:
        run = self._system_ops.get(word)
        if run is None:
            run = self._system_ops[word] = self._system_op(isa.decode(word), word)
        return run(pc)

    def _system_op(self, insn: isa.Insn, word: int) -> Callable[[int], int]:
        """System instruction ``insn`` as a function of its pc that returns
        the next one (or raises): decoded once per instruction word, as the
        guest runs a handful of them again and again."""
        op, hart = insn.op, self.hart

        def ecall(pc: int) -> int:
            raise Trap(isa.ECALL_FROM_M, 0)

        def ebreak(pc: int) -> int:
            raise Trap(isa.BREAKPOINT, pc)

        def mret(pc: int) -> int:  # MIE comes back from MPIE: the run loop looks only if that matters
            target = hart.mret()
            if self._interrupt_state_moved():
                raise Completed("mret", target)
            return target

        def wfi(pc: int) -> int:
            raise Completed("wfi")

        def fence_i(pc: int) -> int:
            self.translator.flush()
            raise Completed("fence.i")

        fixed = {"ecall": ecall, "ebreak": ebreak, "mret": mret, "wfi": wfi, "fence.i": fence_i}.get(op)
        if fixed is not None:
            return fixed
        operation, regs, rd, rs1, zimm = self._csr_operation(insn, word), self.regs, insn.rd, insn.rs1, insn.imm
        immediate = insn.op.endswith("i")

        def csr(pc: int) -> int:  # alone in its block: a counter, or a single step
            old = operation(zimm if immediate else regs[rs1])  # rs1 is read before rd is written: rd may be rs1
            if rd:
                regs[rd] = old
            return (pc + 4) & M32
        return csr

    def _interrupt_state_moved(self) -> bool:
        """After a write to mstatus/mie/mip, or ``mret``: must the run loop look again?
        Yes if an interrupt is now due, or if the timer deadline the current
        stop was computed with is no longer the one in force."""
        return self.hart.interrupt_due() is not None or self._timer_deadline() != self.deadline_in_force

    def _csr_operation(self, insn: isa.Insn, word: int) -> Callable[[int], int]:
        """CSR instruction ``insn`` as a function of its source operand that
        returns the old value for rd: what translated blocks call in line,
        and what a CSR instruction alone in its block runs. A write that
        makes an interrupt due, or moves the timer deadline, raises
        IrqChange with that value (the run loop must look right after it)."""
        operation = self.hart.csr_operation(insn, word)
        if insn.csr not in INTERRUPT_CSRS or not csr_writes(insn):
            return operation
        rd = insn.rd

        def then_look(operand: int) -> int:
            old = operation(operand)
            if self._interrupt_state_moved():
                raise IrqChange("csr", rd, old)
            return old
        return then_look

    # --- inspection ----------------------------------------------------------------

    def state_digest(self) -> str:
        """Registers, pc, icount and the CSRs that matter, hashed."""
        h = self.hart
        words = [*self.regs, self.pc, self.icount[0], h.mstatus, h.mie, h.mtvec, h.mepc, h.mcause, h.mtval,
                 h.mscratch, self.clint.mtime(), self.clint.mtimecmp]
        return xxhash.xxh3_128_hexdigest(b"".join(w.to_bytes(8, "little") for w in words))

    def memory_digest(self, between: Callable[[], None] | None = None) -> str:
        """RAM, hashed; ``between`` is called after each DIGEST_CHUNK bytes
        (the actor sends its heartbeats there: 2 GiB take seconds)."""
        digest, view = xxhash.xxh3_128(), memoryview(self.bus.ram)
        for start in range(0, self.bus.ram_size, DIGEST_CHUNK):
            digest.update(view[start:start + DIGEST_CHUNK])
            if between is not None:
                between()
        return digest.hexdigest()
