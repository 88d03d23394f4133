"""Translation of guest code into Python functions, one per region.

A block starts at a pc and runs straight on through unconditional direct
jumps (``jal``), and past conditional branches along their fall-through
path (a taken branch leaves it: a side exit), until an indirect jump, a
system instruction other than a CSR access in line (``inline_csr``), an
instruction that cannot be decoded, or ``MAX_BLOCK`` instructions. A
region is a block and the blocks its exits lead to that have run already
(``Translator._region``); it becomes the source of one Python function,
compiled once and cached by the pc it starts at, in which the blocks are
labels that jump to each other (see ``_RegionWriter`` for its shape).

Registers live in Python locals inside a region (the fastest storage Python
has); on an exception every local is written back, which is exact because a
local still holds its value from before the instruction that raised until
that instruction has run, and the faulting instruction writes nothing. A
block whose last instruction branches back to its own start becomes a
``for`` loop (``stop`` bounds it), so hot loops run without returning
to the dispatcher, and loops nested in one region without returning to it
either.

What each computational instruction does is written once, in
``actors.cpu.semantics``; the single-step interpreter (``actors.cpu.step``)
derives from the same tables.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from . import isa
from .bus import address_bound
from .codecache import CodeCache, region_key
from .hart import INLINE_CSRS, M32, Trap
from .isa import Insn
from .semantics import ALU, BRANCH, IMM_FORMS, LOAD_BOUND, MODULAR, Operand, div, rem
from .step import Stepper

Block = list[tuple[int, Insn | None, int]]
"""A block's instructions: (pc, decoded instruction or None if illegal, word)."""

Region = list[tuple[Block, int | None]]
"""A region's blocks, each with where it falls through to (None: it does not)."""

MAX_BLOCK = 64
"""Most instructions in one block (a label of a region)."""

MAX_LABELS = 4
"""Most blocks in one region (one compiled function)."""

MAX_REGION = 256
"""Most instructions in one region."""

HOT = 4
"""A region is compiled on the HOT-th run of its first block; until then
its instructions are interpreted (about 2 us each). Compiling one costs
0.5-4 ms, but a guest's second run on takes its regions from the code
cache (actors.cpu.codecache) for about 0.3 ms each; then a low HOT wins.
In ``bench`` with an empty cache, HOT 4 compiled 136 regions (0.32 s) and
HOT 32 compiled 87 (0.21 s); with a full one, HOT 4 interpreted for 8 ms
of 2.97 s. ``diskqd1`` (2000 reads) interpreted for about 2 us a read more
at HOT 32 than at 4."""


CSR_OPS = frozenset({"csrrw", "csrrs", "csrrc", "csrrwi", "csrrsi", "csrrci"})


def inline_csr(insn: Insn) -> bool:
    """Whether a block runs CSR instruction ``insn`` in line, through the
    machine's ``csr_in_block``, rather than alone in a block of its own: an
    access to one of ``INLINE_CSRS`` (whose value does not move with
    icount). Each CSR instruction alone cost a dispatch, and split the code
    around it into more."""
    return insn.op in CSR_OPS and insn.csr in INLINE_CSRS


class Translator:
    """Turns guest code into cached Python functions.

    ``fetch(pc)`` returns the instruction word at pc or raises ``Trap``;
    ``namespace`` holds what translated code refers to: ``W32``/``H16``/``B8``
    (views of RAM), ``RAMSIZE``, ``LD``/``ST`` (the bus's slow
    paths), ``SYS`` (system instructions), ``C`` (the icount cell).
    ``csr_in_block(word)`` makes the function a block calls to run CSR
    instruction ``word`` in line (source operand in, old value out); the
    block's own namespace holds it as ``K<i>``, i its index in the block.
    ``cache`` keeps compiled regions from run to run (``actors.cpu.codecache``).
    """

    def __init__(self, fetch: Callable[[int], int], in_ram: Callable[[int], bool],
                 namespace: dict[str, object], csr_in_block: Callable[[int], Callable[[int], int]],
                 cache: CodeCache | None = None) -> None:
        self.fetch = fetch
        self.cache = cache
        self.csr_in_block = csr_in_block
        self.in_ram = in_ram
        self.namespace = dict(namespace, DIV=div, REM=rem, Trap=Trap)
        self.ram_size: int = namespace["RAMSIZE"]  # type: ignore[assignment]
        self.blocks: dict[int, Callable[[list[int], int], int]] = {}
        self.steps: dict[int, Callable[[list[int], int], int]] = {}
        self.stepper = Stepper(self.namespace)
        self.runs: dict[int, int] = {}  # block start -> times interpreted, until compiled
        self.hot = HOT  # (1: compile every block at its first run)
        self.translated = 0

    def flush(self) -> None:
        """Forget every translation (FENCE.I): code in RAM may have changed."""
        self.blocks.clear()
        self.steps.clear()
        self.runs.clear()

    def compiled(self, pc: int) -> Callable[[list[int], int], int] | None:
        """The compiled region at ``pc``, compiled now if this run makes it
        hot; None while it is not (this run counts)."""
        fn = self.blocks.get(pc)
        if fn is not None:
            return fn
        runs = self.runs.get(pc, 0) + 1
        if runs >= self.hot:
            fn = self.blocks[pc] = self._compile(self._region(pc))
            return fn
        self.runs[pc] = runs
        return None

    def interpret(self, pc: int, regs: list[int], stop: int, most: int) -> int:
        """Run from ``pc`` step by step, as a block would: at most ``most``
        instructions, up to the first that does not fall through. A trap or
        a stop names the pc of the instruction it came from, as a block's
        does."""
        step = self.step
        try:
            for _ in range(most):
                nxt = step(pc)(regs, stop)
                if nxt != (pc + 4) & M32:
                    return nxt
                pc = nxt
        except BaseException as exc:
            if not hasattr(exc, "reel_pc"):
                exc.reel_pc = pc  # type: ignore[attr-defined]
            raise
        return pc

    def step(self, pc: int) -> Callable[[list[int], int], int]:
        """A function that runs exactly one instruction, interpreted."""
        fn = self.steps.get(pc)
        if fn is None:
            fn = self.steps[pc] = self.stepper.bind(pc, self.fetch(pc))
        return fn

    # --- building a block -------------------------------------------------------

    def _gather(self, start: int, limit: int) -> tuple[Block, int | None]:
        """The block's instructions as (pc, insn or None if illegal, word),
        and the pc after it when it simply falls through (None otherwise)."""
        out: Block = []
        pc = start
        seen = set()
        while len(out) < limit:
            if pc != start and not self.in_ram(pc):
                return out, pc  # end before leaving RAM: the next block faults there
            word = self.fetch(pc)  # the first one may raise a fetch trap
            try:
                insn = isa.decode(word)
            except isa.IllegalInstruction:
                out.append((pc, None, word))
                return out, None
            if insn.op in isa.SYSTEM and not inline_csr(insn):
                if out:
                    return out, pc  # a system instruction runs as a block of its own
                out.append((pc, insn, word))
                return out, None
            out.append((pc, insn, word))
            seen.add(pc)
            if insn.op == "jal":
                target = (pc + insn.imm) & M32
                if target in seen and target != start or target & 3 or not self.in_ram(target):
                    return out, None
                if target == start:
                    return out, None
                pc = target  # follow the direct jump
                continue
            if insn.op == "jalr":
                return out, None
            if insn.op in isa.BRANCHES and (pc + insn.imm) & M32 == start:
                return out, None  # a branch back to the start closes a loop
            pc = (pc + 4) & M32  # on along the fall-through path (branches leave by side exits)
            if pc in seen:
                return out, pc
        return out, pc

    def _region(self, start: int) -> Region:
        """The blocks of the region that starts at ``start``: its own block,
        then, breadth first, the blocks its exits lead to that have already
        run (translated, or interpreted at least once), up to MAX_LABELS
        blocks or MAX_REGION instructions. Code that never ran stays out of
        it: compiling costs as much as running a block hundreds of times."""
        region = [self._gather(start, MAX_BLOCK)]
        starts = [start]
        size = len(region[0][0])
        index = 0
        while index < len(region) and len(region) < MAX_LABELS:
            for target in _successors(*region[index]):
                if target in starts or not (target in self.blocks or target in self.runs):
                    continue
                if target & 3 or not self.in_ram(target):
                    continue
                insns, fallthrough = self._gather(target, MAX_BLOCK)
                first = insns[0][1]
                if first is None or first.op in isa.SYSTEM and not inline_csr(first):
                    continue  # a system instruction runs alone, on X itself
                if size + len(insns) > MAX_REGION or len(region) == MAX_LABELS:
                    break
                region.append((insns, fallthrough))
                starts.append(target)
                size += len(insns)
            index += 1
        return region

    def _compile(self, region: Region) -> Callable[[list[int], int], int]:
        """The function that runs ``region`` (its code from the cache when
        it has it)."""
        start = region[0][0][0][0]
        writer = _RegionWriter(region, self.ram_size)
        key = region_key(self.ram_size, region) if self.cache is not None else ""
        code = self.cache.load(key) if self.cache is not None else None
        if code is None:
            code = compile(writer.source(), f"<block {start:#010x}>", "exec")
            if self.cache is not None:
                self.cache.store(key, code)
        namespace = dict(self.namespace, PCS=writer.pcs + (0,), LOC=writer.local + (0,),
                         CNT=writer.counts + (0,), LBL=writer.label_of)
        namespace.update({f"K{i}": self.csr_in_block(word) for i, (_, insn, word) in enumerate(writer.flat)
                          if insn is not None and inline_csr(insn)})
        exec(code, namespace)
        self.translated += 1
        block: Any = namespace["block"]
        # The most one label retires (what a call needs left to start every label).
        block.size = max(len(insns) for insns, _ in region)
        return block


def _successors(insns: Block, fallthrough: int | None) -> list[int]:
    """Where a block's exits lead that is known when it is translated: the
    targets of its branches, where it ends, and the return point of a call
    in it (a ``jalr`` back there may find it in the region)."""
    out = []
    for pc, insn, _ in insns:
        if insn is None:
            continue
        if insn.op in isa.BRANCHES:
            out.append((pc + insn.imm) & M32)
        elif insn.op in ("jal", "jalr") and insn.rd:
            out.append((pc + 4) & M32)
    pc, last, _ = insns[-1]
    if last is not None:
        if last.op in isa.BRANCHES:
            out.append((pc + 4) & M32)
        elif last.op == "jal":
            out.append((pc + last.imm) & M32)
        elif fallthrough is not None:
            out.append(fallthrough)
    elif fallthrough is not None:
        out.append(fallthrough)
    return out


class _RegionWriter:
    """Writes the Python source of one region: blocks (labels) that jump
    to each other inside one function, its registers in locals throughout::

        def block(X, stop):
            r5 = X[5]                     # every register the region touches
            n = C[0]; budget = stop - n
            c = 0                         # retired by this call before label L
            L = 0; k = 1
            try:
                while True:
                    if L == 0:
                        if c > budget - 3:    # a label starts only if it fits whole
                            nxt = 0x80000000; break   # (its own pc: stop before it)
                        ...               # label 0's block, 3 instructions
                        c += 3; L = 1; continue      # on to a label
                    elif L == 1:
                        ...
                        c += 2; nxt = 0x80000010; break   # out of the region
            except BaseException as exc:  # a trap, or a device that stops us
                X[5] = r5 & 0xFFFFFFFF    # registers as of the instruction i
                i = IX[0]; C[0] = n + c + (k - 1) * CNT[i] + LOC[i]; ...
                raise
            X[5] = r5
            C[0] = n + c
            return nxt

    Exits: a conditional branch leaves its label when taken (a side exit)
    and falls through otherwise; the last instruction leaves towards its
    successor. An exit to a label of the region goes on there without
    returning to the dispatcher; so does an indirect jump whose target is
    one (``LBL`` maps their pcs). A label whose last instruction branches
    back to its own start is a ``for`` loop, as many rounds as the budget
    allows; in a loop an exit sets ``e`` (instructions of this round done)
    and ``L`` (-1: out of the region, to ``nxt``) and breaks.

    Unreduced values: a local may hold a value congruent to its register
    modulo 2**32 but not reduced to 32 bits (``dirty``), left so by ``add``,
    ``sub`` and ``mul`` (semantics.MODULAR). Where an instruction needs the
    register's value itself (a comparison, a shift right, a stored word...),
    the local is reduced in place first; an address needs no reduction (an
    unreduced one fails the in-RAM test and takes the slow path, which
    reduces it), nor does an AND with a reduced operand. Every way out of a
    label reduces what is dirty, so a label always starts from reduced
    values, except a loop's next round, which starts from what its last
    round left. At most one operand of ``add`` or ``sub`` may be dirty and
    ``mul``'s operands are reduced: a product is below 2**64 and a sum
    grows by less than that per instruction run, so over the at most
    poll_every instructions of one call a dirty value stays a Python
    integer of a few digits (doubling a dirty value round after round would
    have made it grow without bound).
    """

    def __init__(self, region: Region, ram_size: int = 3) -> None:
        self.ram_size = ram_size
        self.region = region
        self.starts = [insns[0][0] for insns, _ in region]
        self.label_of = {pc: label for label, pc in enumerate(self.starts)}
        self.flat = [insn for insns, _ in region for insn in insns]
        self.pcs = tuple(pc for pc, _, _ in self.flat)
        self.local = tuple(i for insns, _ in region for i in range(len(insns)))
        self.counts = tuple(len(insns) if _loops(insns) else 0 for insns, _ in region for _ in insns)
        self.used: set[int] = set()
        self.written: set[int] = set()
        for _, insn, _ in self.flat:
            if insn is None or insn.op in isa.SYSTEM and not inline_csr(insn):
                continue  # system ones alone in their block use X itself
            sources = (insn.rs1,) if insn.op in CSR_OPS and not insn.op.endswith("i") else (
                () if insn.op in CSR_OPS else (insn.rs1, insn.rs2))
            self.used.update(r for r in (insn.rd, *sources) if r)
            if insn.rd:
                self.written.add(insn.rd)
        # Bounds are found in one pass along a label. A label starts from
        # knowing nothing (it has several ways in, and a loop's body runs
        # again after its end), so they hold whichever way it is entered.
        self.bounds: dict[int, int] = {}
        self.dirty: set[int] = set()
        self.start = 0  # the label being written: its start pc, first index, length, whether it loops
        self.first = 0
        self.count = 0
        self.loops = False
        self.fallthrough: int | None = None

    def operand(self, n: int) -> Operand:
        """Register ``n`` as an operand, with what is known of its value
        (a dirty one's bound is past 32 bits: nothing is known)."""
        if n == 0:
            return Operand("0", 0)
        return Operand(f"r{n}", _DIRTY if n in self.dirty else self.bounds.get(n, M32))

    def reduce(self, *registers: int) -> list[str]:
        """Lines that reduce those of ``registers`` that are dirty."""
        out = []
        for n in dict.fromkeys(registers):
            if n in self.dirty:
                self.dirty.discard(n)
                self.bounds[n] = M32
                out.append(f"r{n} &= 0xFFFFFFFF")
        return out

    def define(self, rd: int, bound: int) -> None:
        """Register ``rd`` was just assigned a value no larger than ``bound``
        (past 32 bits: maybe unreduced)."""
        if bound > M32:
            self.dirty.add(rd)
            self.bounds.pop(rd, None)
        else:
            self.dirty.discard(rd)
            self.bounds[rd] = bound

    def source(self) -> str:
        lines = ["def block(X, stop):"]
        lines += [f"    r{n} = X[{n}]" for n in sorted(self.used)]
        lines += ["    n = C[0]", "    budget = stop - n", "    c = 0", "    L = 0", "    k = 1",
                  "    try:", "        while True:"]
        first = 0
        for label, (insns, fallthrough) in enumerate(self.region):
            lines.append(f"            {'if' if label == 0 else 'elif'} L == {label}:")
            # The label starts only if all of it fits in the budget: so a
            # call stops exactly at ``stop`` or before it, never past it.
            lines += [f"                if c > budget - {len(insns)}:", f"                    nxt = {insns[0][0]}",
                      "                    break"]
            lines += ["                " + line for line in self._label(insns, fallthrough, first)]
            first += len(insns)
        lines += [
            "    except BaseException as exc:",
            *[f"        X[{n}] = r{n} & 0xFFFFFFFF" for n in sorted(self.used)],
            "        i = IX[0]",
            "        C[0] = n + c + (k - 1) * CNT[i] + LOC[i]",
            "        exc.reel_pc = PCS[i]",
            "        raise",
        ]
        lines += [f"    X[{n}] = r{n}" for n in sorted(self.written)]
        lines += ["    C[0] = n + c", "    return nxt"]
        return "\n".join(lines) + "\n"

    def _label(self, insns: Block, fallthrough: int | None, first: int) -> list[str]:
        self.start, self.first, self.count, self.loops = insns[0][0], first, len(insns), _loops(insns)
        self.fallthrough = fallthrough
        indent = "    " if self.loops else ""
        dirty_at_start: set[int] = set()
        while True:
            # A loop's round starts from what the last left dirty: written
            # again until that is what it assumed (a few passes at most).
            self.bounds, self.dirty = {}, set(dirty_at_start)
            body: list[str] = []
            for index, (pc, insn, word) in enumerate(insns):
                body.extend(indent + line for line in self._insn(index, pc, insn, word, index == self.count - 1))
            if not self.loops or self.dirty <= dirty_at_start:
                break
            dirty_at_start |= self.dirty
        body = _reduced_in_place(body)
        if not self.loops:
            return body
        # Round k (from 1) may start only if it ends within budget: c + k * count <= budget.
        return [f"for k in range(1, (budget - c) // {self.count} + 1):", *body,
                "else:", *("    " + line for line in self._reduced_all(dirty_at_start)),
                f"    e = {self.count}", f"    L = {self.label_of[self.start]}",
                f"c += (k - 1) * {self.count} + e", "if L < 0:", "    break", "continue"]

    def _reduced_all(self, dirty: set[int]) -> list[str]:
        """Lines that reduce every one of ``dirty`` (on a way out: what is
        known along the way on does not change)."""
        return [f"r{n} &= 0xFFFFFFFF" for n in sorted(dirty)]

    def _exit(self, target: int | str, index: int) -> list[str]:
        """Leave the label towards ``target`` (a pc, or the name of a local
        holding one) after instruction ``index``."""
        out = self._reduced_all(self.dirty)
        if isinstance(target, str):
            label = [f"L = LBL.get({target}, -1)"] if len(self.starts) > 1 else ["L = -1"]
            if self.loops:
                return out + [f"e = {index + 1}", *label, f"nxt = {target}", "break"]
            return out + [f"c += {index + 1}", *label, "if L >= 0:", "    continue", f"nxt = {target}", "break"]
        to = self.label_of.get(target)
        if self.loops:
            jump = [f"L = {to}"] if to is not None else ["L = -1", f"nxt = {target}"]
            return out + [f"e = {index + 1}", *jump, "break"]
        if to is not None:
            return out + [f"c += {index + 1}", f"L = {to}", "continue"]
        return out + [f"c += {index + 1}", f"nxt = {target}", "break"]

    def _loop_or_exit(self, target: int, index: int, is_last: bool) -> list[str]:
        if self.loops and is_last and target == self.start:
            return ["continue"]  # the next round: dirty values stay as they are
        return self._exit(target, index)

    # --- one instruction -------------------------------------------------------------

    def _insn(self, index: int, pc: int, insn: Insn | None, word: int, is_last: bool) -> list[str]:
        where = self.first + index  # its index in the region: what IX, PCS and LOC know it by
        if insn is None:
            return [f"IX[0] = {where}", f"raise Trap({isa.ILLEGAL_INSTRUCTION}, {word})"]
        op = insn.op
        rd = insn.rd
        dest = f"r{rd}" if rd else "_"
        out: list[str] = []
        if op in IMM_FORMS or op in ALU:
            if rd:
                out += self._alu(insn, dest)
        elif op == "lui":
            if rd:
                out.append(f"{dest} = {insn.imm}")
                self.define(rd, insn.imm)
        elif op == "auipc":
            if rd:
                out.append(f"{dest} = {(pc + insn.imm) & M32}")
                self.define(rd, (pc + insn.imm) & M32)
        elif op == "fence":
            pass
        elif op in isa.LOADS:
            out += self._load(insn, self.operand(insn.rs1).text, dest, index, word)  # any address will do
            self._addressed(insn.rs1)
            if rd:
                self.define(rd, LOAD_BOUND[op])
        elif op in isa.STORES:
            if isa.STORES[op] == 4:
                out += self.reduce(insn.rs2)  # a word is stored as it is; a part is masked anyway
            out += self._store(insn, self.operand(insn.rs1).text, self.operand(insn.rs2).text, index)
            self._addressed(insn.rs1)
        elif op == "jal":
            target = (pc + insn.imm) & M32
            if target & 3:  # the jump itself traps, and writes no link
                return [f"IX[0] = {where}", f"raise Trap({isa.MISALIGNED_FETCH}, {target})"]
            if rd:
                out.append(f"{dest} = {(pc + 4) & M32}")
                self.define(rd, (pc + 4) & M32)
            if is_last:
                return out + self._loop_or_exit(target, index, True)
        elif op == "jalr":
            out.append(f"t = ({self.operand(insn.rs1).text} + {insn.imm}) & 0xFFFFFFFE")  # reduces its base
            out += ["if t & 3:", f"    IX[0] = {where}", f"    raise Trap({isa.MISALIGNED_FETCH}, t)"]
            if rd:  # after the check: a jump that traps writes no link
                out.append(f"{dest} = {(pc + 4) & M32}")
                self.define(rd, (pc + 4) & M32)
            return out + self._exit("t", index)
        elif op in isa.BRANCHES:
            out += self.reduce(insn.rs1, insn.rs2)
            a, b = self.operand(insn.rs1), self.operand(insn.rs2)
            target = (pc + insn.imm) & M32
            if target & 3:
                taken = [f"IX[0] = {where}", f"raise Trap({isa.MISALIGNED_FETCH}, {target})"]
            else:
                taken = self._loop_or_exit(target, index, is_last)
            out += [f"if {BRANCH[op](a, b)}:", *("    " + line for line in taken)]
            if is_last:
                out += self._exit((pc + 4) & M32, index)
            return out
        elif inline_csr(insn):
            if not op.endswith("i"):
                out += self.reduce(insn.rs1)
            # The operand is evaluated before rd is written.
            operand = str(insn.imm) if op.endswith("i") else self.operand(insn.rs1).text
            out += [f"IX[0] = {where}", f"{dest} = K{where}({operand})"]
            if rd:
                self.define(rd, M32)
        elif op in isa.SYSTEM:
            # Alone in its block: the hart runs it on X and says where to go on.
            return [f"IX[0] = {where}", f"nxt = SYS({pc}, {word})", *self._exit("nxt", index)]
        else:
            raise AssertionError(f"no translation for {op}")
        if is_last:
            out += self._exit(self.fallthrough if self.fallthrough is not None else (pc + 4) & M32, index)
        return out

    def _addressed(self, base: int) -> None:
        """Register ``base`` (reduced) just served as an access's base: past
        that access, which did not trap, it is at most ``address_bound``
        (bus.DEVICES_FROM says why). Then ``addi base, base, 4`` leaves it
        below 2**32, and the compare that closes a loop over an array need
        not reduce it (3-4% of ``bench``)."""
        if base and base not in self.dirty:
            self.bounds[base] = min(self.bounds.get(base, M32), address_bound(self.ram_size))

    def _alu(self, insn: Insn, dest: str) -> list[str]:
        """A computational instruction with a destination: reduced operands
        where it needs them, its value left unreduced where it may be."""
        op = IMM_FORMS.get(insn.op, insn.op)
        registers = (insn.rs1,) if insn.op in IMM_FORMS else (insn.rs1, insn.rs2)
        out: list[str] = []
        if op in ("add", "sub", "and"):
            if len(registers) == 2 and all(r in self.dirty for r in registers):
                out += self.reduce(insn.rs2)  # at most one dirty operand
        else:
            out += self.reduce(*registers)  # mul's too: a product of dirty values would grow without end
        a = self.operand(insn.rs1)
        b = Operand(str(insn.imm & M32), insn.imm & M32) if insn.op in IMM_FORMS else self.operand(insn.rs2)
        if a.const and b.const:
            value = eval(ALU[op](a, b)[0], {"DIV": div, "REM": rem})  # both known: fold (our own text, integers only)
            expr, bound = str(value), value
        elif op == "and":
            expr, bound = f"{a.text} & {b.text}", min(a.bound, b.bound)  # bounded by a reduced operand
        elif op == "add" and insn.op == "addi" and insn.imm <= 0:
            # Subtracting keeps the value small (adding 2**32 - k made it a
            # 33-bit one); it may go below zero, so it is dirty.
            expr, bound = (a.text, a.bound) if insn.imm == 0 else (f"{a.text} - {-insn.imm}", _DIRTY)
        elif op in MODULAR:
            expr, bound = MODULAR[op](a, b)
            if op == "sub":
                bound = _DIRTY  # may go below zero
        else:
            expr, bound = ALU[op](a, b)
        self.define(insn.rd, bound)
        return out + [f"{dest} = {expr}"]

    def _in_ram(self, size: int) -> str:
        """The test that offset ``o`` (address - RAM base) is an aligned
        access inside RAM. With RAM a power of two in size, one AND does it:
        a negative offset, one past the end, and a misaligned one all have a
        bit outside the aligned in-RAM mask."""
        if self.ram_size & (self.ram_size - 1) == 0:
            return f"not o & {~(self.ram_size - size)}"
        return f"0 <= o < RAMSIZE and not o & {size - 1}" if size > 1 else "0 <= o < RAMSIZE"

    def _retired(self, index: int) -> str:
        """Instructions this call retired before instruction ``index`` of
        the label: the slow paths add it to C[0] to know the exact icount."""
        return f"c + (k - 1) * {self.count} + {index}" if self.loops else f"c + {index}"

    def _load(self, insn: Insn, a: str, dest: str, index: int, word: int) -> list[str]:
        size, signed = isa.LOADS[insn.op]
        view, shift = _VIEWS[size]
        off = f"o = {a} + {insn.imm - 0x80000000}"
        slow = f"LD(({a} + {insn.imm}) & 0xFFFFFFFF, {size}, {self.first + index}, {self._retired(index)}, {word})"
        lines = [off, f"{dest} = {view}[o{shift}] if {self._in_ram(size)} else {slow}"]
        if signed and dest != "_":
            bits = 8 * size
            lines.append(f"{dest} = ({dest} ^ {1 << (bits - 1)}) - {1 << (bits - 1)} & 0xFFFFFFFF")
        return lines

    def _store(self, insn: Insn, a: str, b: str, index: int) -> list[str]:
        size = isa.STORES[insn.op]
        view, shift = _VIEWS[size]
        value = b if size == 4 else f"{b} & {(1 << (8 * size)) - 1}"
        off = f"o = {a} + {insn.imm - 0x80000000}"
        slow = f"ST(({a} + {insn.imm}) & 0xFFFFFFFF, {size}, {value}, {self.first + index}, {self._retired(index)})"
        return [off, f"if {self._in_ram(size)}:", f"    {view}[o{shift}] = {value}", "else:", f"    {slow}"]


_VIEWS = {4: ("W32", " >> 2"), 2: ("H16", " >> 1"), 1: ("B8", "")}

_DIRTY = 1 << 80
"""The bound of a value that may be unreduced: past 32 bits, nothing known."""


_ASSIGNED = re.compile(r"( *)(r\d+) = (.+)$")


def _reduced_in_place(lines: list[str]) -> list[str]:
    """``rN = EXPR`` then ``rN &= 0xFFFFFFFF`` as one line, ``rN = (EXPR) &
    0xFFFFFFFF``: the same value (and, if EXPR raises, the same nothing
    written), two bytecodes fewer (a product reduced for the sum after it
    is the common case: 2% of ``bench``)."""
    out: list[str] = []
    for line in lines:
        assigned = _ASSIGNED.match(out[-1]) if out else None
        if (assigned is not None and line == f"{assigned[1]}{assigned[2]} &= 0xFFFFFFFF"
                and " if " not in assigned[3]):
            out[-1] = f"{assigned[1]}{assigned[2]} = ({assigned[3]}) & 0xFFFFFFFF"
            continue
        out.append(line)
    return out


def _loops(insns: Block) -> bool:
    """Whether a block's last instruction jumps back to its start."""
    start = insns[0][0]
    last_pc, last, _ = insns[-1]
    return last is not None and (last.op in isa.BRANCHES or last.op == "jal") and (
        last_pc + last.imm) & M32 == start
