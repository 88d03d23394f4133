"""Translation of guest code into Python functions, one per basic block.

A block starts at a pc and runs straight on through unconditional direct
jumps (``jal``) until a branch, an indirect jump, a system instruction
other than a CSR access in line (``inline_csr``), an instruction that
cannot be decoded, or ``MAX_BLOCK`` instructions. It becomes
the source of one Python function, compiled once and cached by pc::

    def block(X, fast_stop):          # X: the integer registers
        r5 = X[5]; r6 = X[6]          # every register the block touches
        i = 0                         # index of the instruction in flight
        try:
            r5 = (r5 + 1) & 0xFFFFFFFF
            i = 1
            o = r6 + -2147483648
            r6 = W32[o >> 2] if 0 <= o < RAMSIZE and not o & 3 else LD(...)
        except BaseException as e:    # a trap, or a device that stops us
            X[5] = r5; X[6] = r6      # registers as of instruction i
            i = IX[0]; C[0] += i; e.reel_pc = PCS[i]
            raise
        X[5] = r5; X[6] = r6
        C[0] += 2
        return 0x80000010             # the next pc

Registers live in Python locals inside a block (the fastest storage Python
has); on an exception every local is written back, which is exact because a
local still holds its entry value until its instruction has run, and the
faulting instruction writes nothing. A block whose last instruction branches
back to its own start becomes a ``while`` loop (``fast_stop`` bounds it), so
hot loops run without returning to the dispatcher.

What each computational instruction does is written once, in
``actors.cpu.semantics``; the single-step interpreter (``actors.cpu.step``)
derives from the same tables.
"""

from __future__ import annotations

import functools
from typing import Callable

from . import isa
from .hart import INLINE_CSRS, M32, Trap
from .isa import Insn
from .semantics import ALU, BRANCH, IMM_FORMS, LOAD_BOUND, Operand, div, rem
from .step import Stepper

MAX_BLOCK = 64
"""Most instructions in one block (and so in one dispatcher step)."""

HOT = 4
"""A block is compiled on its HOT-th run; until then its instructions are
interpreted. Compiling one costs about 2 ms here, interpreting an
instruction about 2 us, and much code (start-up, set-up, error paths) runs
only a few times: in ``bench`` 175 of 315 blocks ran at most three times
and took 0.45 s of its 0.72 s of compiling."""


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
    """

    def __init__(self, fetch: Callable[[int], int], in_ram: Callable[[int], bool],
                 namespace: dict[str, object], csr_in_block: Callable[[int], Callable[[int], int]]) -> None:
        self.fetch = fetch
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

    def block(self, pc: int) -> Callable[[list[int], int], int]:
        """What runs from ``pc`` up to the end of its block: the compiled
        block once it is hot, the interpreter before."""
        fn = self.blocks.get(pc)
        if fn is not None:
            return fn
        runs = self.runs.get(pc, 0) + 1
        if runs >= self.hot:
            fn = self.blocks[pc] = self._compile(pc)
            return fn
        self.runs[pc] = runs
        return functools.partial(self._interpret, pc)

    def _interpret(self, pc: int, regs: list[int], fast_stop: int) -> int:
        """Run from ``pc`` step by step, as a block would: at most MAX_BLOCK
        instructions, up to the first that does not fall through. A trap or
        a stop names the pc of the instruction it came from, as a block's
        does."""
        step = self.step
        try:
            for _ in range(MAX_BLOCK):
                nxt = step(pc)(regs, fast_stop)
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

    def _gather(self, start: int, limit: int) -> tuple[list[tuple[int, Insn | None, int]], int | None]:
        """The block's instructions as (pc, insn or None if illegal, word),
        and the pc after it when it simply falls through (None otherwise)."""
        out: list[tuple[int, Insn | None, int]] = []
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

    def _compile(self, start: int) -> Callable[[list[int], int], int]:
        insns, fallthrough = self._gather(start, MAX_BLOCK)
        source = _BlockWriter(start, insns, fallthrough, self.ram_size).source()
        namespace = dict(self.namespace, PCS=tuple(pc for pc, _, _ in insns) + (0,))
        namespace.update({f"K{i}": self.csr_in_block(word) for i, (_, insn, word) in enumerate(insns)
                          if insn is not None and inline_csr(insn)})
        exec(compile(source, f"<block {start:#010x}>", "exec"), namespace)
        self.translated += 1
        block = namespace["block"]
        block.size = len(insns)  # the most one call retires, told to stop ``size`` before an end
        return block  # type: ignore[return-value]


class _BlockWriter:
    """Writes the Python source of one block.

    Exits: a conditional branch leaves the block when taken (a side exit)
    and falls through otherwise; the last instruction leaves towards its
    successor. A loop block's last instruction may instead go round again.
    In a loop block an exit sets ``e`` (instructions of this iteration done)
    and ``nxt`` and breaks; elsewhere it writes back and returns at once.
    """

    def __init__(self, start: int, insns: list[tuple[int, Insn | None, int]], fallthrough: int | None,
                 ram_size: int = 3) -> None:
        self.start = start
        self.ram_size = ram_size
        self.insns = insns
        self.fallthrough = fallthrough
        self.used: set[int] = set()
        self.written: set[int] = set()
        for _, insn, _ in insns:
            if insn is None or insn.op in isa.SYSTEM and not inline_csr(insn):
                continue  # system ones alone in their block use X itself
            sources = (insn.rs1,) if insn.op in CSR_OPS and not insn.op.endswith("i") else (
                () if insn.op in CSR_OPS else (insn.rs1, insn.rs2))
            self.used.update(r for r in (insn.rd, *sources) if r)
            if insn.rd:
                self.written.add(insn.rd)
        # Bounds are found in one pass along the block. A loop block's body
        # starts from knowing nothing, so they hold in every iteration.
        self.bounds: dict[int, int] = {}
        last_pc, last, _ = insns[-1]
        self.loops = last is not None and (last.op in isa.BRANCHES or last.op == "jal") and (
            last_pc + last.imm) & M32 == start

    def operand(self, n: int) -> Operand:
        """Register ``n`` as an operand, with what is known of its value."""
        if n == 0:
            return Operand("0", 0)
        return Operand(f"r{n}", self.bounds.get(n, M32))

    def define(self, rd: int, bound: int) -> None:
        """Register ``rd`` was just assigned a value no larger than ``bound``."""
        self.bounds[rd] = bound

    def source(self) -> str:
        count = len(self.insns)
        indent = "            " if self.loops else "        "
        body: list[str] = []
        for index, (pc, insn, word) in enumerate(self.insns):
            body.extend(indent + line for line in self._insn(index, pc, insn, word, index == count - 1))
        lines = ["def block(X, fast_stop):"]
        lines += [f"    r{n} = X[{n}]" for n in sorted(self.used)]
        lines += ["    try:"]
        if self.loops:
            # Iteration k (from 1) may start only while the count before it,
            # n + (k - 1) * count, is at most fast_stop.
            lines += ["        n = C[0]", "        k = 1",
                      f"        for k in range(1, (fast_stop - n) // {count} + 2):"]
            lines += body
            lines += ["        else:", f"            e = {count}", f"            nxt = {self.start}"]
        else:
            lines += body
        lines += [
            "    except BaseException as exc:",
            *[f"        X[{n}] = r{n}" for n in sorted(self.used)],
            "        i = IX[0]",
            f"        C[0] = n + (k - 1) * {count} + i" if self.loops else "        C[0] += i",
            "        exc.reel_pc = PCS[i]",
            "        raise",
        ]
        if self.loops:
            lines += [f"    X[{n}] = r{n}" for n in sorted(self.written)]
            lines += [f"    C[0] = n + (k - 1) * {count} + e", "    return nxt"]
        return "\n".join(lines) + "\n"

    def _exit(self, target: int | str, index: int) -> list[str]:
        """Leave the block towards ``target`` after instruction ``index``."""
        if self.loops:
            return [f"e = {index + 1}", f"nxt = {target}", "break"]
        return [*(f"X[{n}] = r{n}" for n in sorted(self.written)), f"C[0] += {index + 1}", f"return {target}"]

    def _loop_or_exit(self, target: int, index: int, is_last: bool) -> list[str]:
        if self.loops and is_last and target == self.start:
            return ["continue"]
        return self._exit(target, index)

    # --- one instruction -------------------------------------------------------------

    def _insn(self, index: int, pc: int, insn: Insn | None, word: int, is_last: bool) -> list[str]:
        if insn is None:
            return [f"IX[0] = {index}", f"raise Trap({isa.ILLEGAL_INSTRUCTION}, {word})"]
        op = insn.op
        rd, a, b = insn.rd, self.operand(insn.rs1), self.operand(insn.rs2)
        dest = f"r{rd}" if rd else "_"
        out: list[str] = []
        if op in IMM_FORMS or op in ALU:
            if rd:
                if op in IMM_FORMS:
                    b = Operand(str(insn.imm & M32), insn.imm & M32)
                expr, bound = ALU[IMM_FORMS.get(op, op)](a, b)
                if a.const and b.const:
                    value = eval(expr, {"DIV": div, "REM": rem})  # both known: fold (our own text, integers only)
                    expr, bound = str(value), value
                out.append(f"{dest} = {expr}")
                self.define(rd, bound)
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
            out += self._load(insn, a.text, dest, index, word)
            if rd:
                self.define(rd, LOAD_BOUND[op])
        elif op in isa.STORES:
            out += self._store(insn, a.text, b.text, index)
        elif op == "jal":
            target = (pc + insn.imm) & M32
            if target & 3:  # the jump itself traps, and writes no link
                return [f"IX[0] = {index}", f"raise Trap({isa.MISALIGNED_FETCH}, {target})"]
            if rd:
                out.append(f"{dest} = {(pc + 4) & M32}")
                self.define(rd, (pc + 4) & M32)
            if is_last:
                return out + self._loop_or_exit(target, index, True)
        elif op == "jalr":
            out.append(f"t = ({a.text} + {insn.imm}) & 0xFFFFFFFE")
            out += ["if t & 3:", f"    IX[0] = {index}", f"    raise Trap({isa.MISALIGNED_FETCH}, t)"]
            if rd:  # after the check: a jump that traps writes no link
                out.append(f"{dest} = {(pc + 4) & M32}")
            return out + self._exit("t", index)
        elif op in isa.BRANCHES:
            target = (pc + insn.imm) & M32
            if target & 3:
                taken = [f"IX[0] = {index}", f"raise Trap({isa.MISALIGNED_FETCH}, {target})"]
            else:
                taken = self._loop_or_exit(target, index, is_last)
            out += [f"if {BRANCH[op](a, b)}:", *("    " + line for line in taken)]
            if is_last:
                out += self._exit((pc + 4) & M32, index)
            return out
        elif inline_csr(insn):
            operand = str(insn.imm) if op.endswith("i") else a.text  # evaluated before rd is written
            out += [f"IX[0] = {index}", f"{dest} = K{index}({operand})"]
            if rd:
                self.define(rd, M32)
        elif op in isa.SYSTEM:
            # Alone in its block: the hart runs it on X and says where to go on.
            return [f"IX[0] = {index}", f"nxt = SYS({pc}, {word})", *self._exit("nxt", index)]
        else:
            raise AssertionError(f"no translation for {op}")
        if is_last:
            out += self._exit(self.fallthrough if self.fallthrough is not None else (pc + 4) & M32, index)
        return out

    def _in_ram(self, size: int) -> str:
        """The test that offset ``o`` (address - RAM base) is an aligned
        access inside RAM. With RAM a power of two in size, one AND does it:
        a negative offset, one past the end, and a misaligned one all have a
        bit outside the aligned in-RAM mask."""
        if self.ram_size & (self.ram_size - 1) == 0:
            return f"not o & {~(self.ram_size - size)}"
        return f"0 <= o < RAMSIZE and not o & {size - 1}" if size > 1 else "0 <= o < RAMSIZE"

    def _retired(self, index: int) -> str:
        """Instructions this call of the block retired before instruction
        ``index``: the slow paths add it to C[0] to know the exact icount."""
        return f"(k - 1) * {len(self.insns)} + {index}" if self.loops else str(index)

    def _load(self, insn: Insn, a: str, dest: str, index: int, word: int) -> list[str]:
        size, signed = isa.LOADS[insn.op]
        view, shift = _VIEWS[size]
        off = f"o = {a} + {insn.imm - 0x80000000}"
        slow = f"LD(({a} + {insn.imm}) & 0xFFFFFFFF, {size}, {index}, {self._retired(index)}, {word})"
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
        slow = f"ST(({a} + {insn.imm}) & 0xFFFFFFFF, {size}, {value}, {index}, {self._retired(index)})"
        return [off, f"if {self._in_ram(size)}:", f"    {view}[o{shift}] = {value}", "else:", f"    {slow}"]


_VIEWS = {4: ("W32", " >> 2"), 2: ("H16", " >> 1"), 1: ("B8", "")}
