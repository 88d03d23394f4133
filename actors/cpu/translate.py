"""Translation of guest code into Python functions, one per basic block.

A block starts at a pc and runs straight on through unconditional direct
jumps (``jal``) until a branch, an indirect jump, a system instruction, an
instruction that cannot be decoded, or ``MAX_BLOCK`` instructions. It becomes
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
            C[0] += i; e.reel_pc = PCS[i]
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

What each instruction does is written once, in ``_ALU``, ``_BRANCH``,
``_load`` and ``_store``; the single-step path uses the same code (blocks of
one instruction).
"""

from __future__ import annotations

import re
from typing import Callable

from . import isa
from .hart import M32, Trap
from .isa import Insn

MAX_BLOCK = 64
"""Most instructions in one block (and so in one dispatcher step)."""

S = 0x80000000  # the sign bit: x ^ S orders unsigned words as signed ones

# name -> Python expression over "a" (rs1), "b" (rs2 or the immediate).
_ALU: dict[str, str] = {
    "add": "(a + b) & 0xFFFFFFFF",
    "sub": "(a - b) & 0xFFFFFFFF",
    "sll": "(a << (b & 31)) & 0xFFFFFFFF",
    "slt": "1 if (a ^ 0x80000000) < (b ^ 0x80000000) else 0",
    "sltu": "1 if a < b else 0",
    "xor": "a ^ b",
    "srl": "a >> (b & 31)",
    "sra": "(((a ^ 0x80000000) - 0x80000000) >> (b & 31)) & 0xFFFFFFFF",
    "or": "a | b",
    "and": "a & b",
    "mul": "(a * b) & 0xFFFFFFFF",
    "mulh": "((((a ^ 0x80000000) - 0x80000000) * ((b ^ 0x80000000) - 0x80000000)) >> 32) & 0xFFFFFFFF",
    "mulhsu": "((((a ^ 0x80000000) - 0x80000000) * b) >> 32) & 0xFFFFFFFF",
    "mulhu": "(a * b) >> 32",
    "div": "DIV(a, b)",
    "divu": "a // b if b else 0xFFFFFFFF",
    "rem": "REM(a, b)",
    "remu": "a % b if b else a",
}
# The immediate forms share the register forms' code (b = the immediate).
_IMM_FORMS = {"addi": "add", "slti": "slt", "sltiu": "sltu", "xori": "xor", "ori": "or", "andi": "and",
              "slli": "sll", "srli": "srl", "srai": "sra"}

_BRANCH: dict[str, str] = {
    "beq": "a == b",
    "bne": "a != b",
    "blt": "(a ^ 0x80000000) < (b ^ 0x80000000)",
    "bge": "(a ^ 0x80000000) >= (b ^ 0x80000000)",
    "bltu": "a < b",
    "bgeu": "a >= b",
}


def div(a: int, b: int) -> int:
    """DIV as the spec defines it: by zero gives -1, overflow gives the dividend."""
    if b == 0:
        return M32
    sa, sb = (a ^ S) - S, (b ^ S) - S
    q = abs(sa) // abs(sb)
    return (-q if (sa < 0) != (sb < 0) else q) & M32


def rem(a: int, b: int) -> int:
    """REM as the spec defines it: by zero gives the dividend; the sign is the dividend's."""
    if b == 0:
        return a
    sa, sb = (a ^ S) - S, (b ^ S) - S
    r = abs(sa) % abs(sb)
    return (-r if sa < 0 else r) & M32


class Translator:
    """Turns guest code into cached Python functions.

    ``fetch(pc)`` returns the instruction word at pc or raises ``Trap``;
    ``namespace`` holds what translated code refers to: ``W32``/``H16``/``B8``
    (views of RAM), ``RAMBASE``/``RAMSIZE``, ``LD``/``ST`` (the bus's slow
    paths), ``SYS`` (system instructions), ``C`` (the icount cell).
    """

    def __init__(self, fetch: Callable[[int], int], in_ram: Callable[[int], bool],
                 namespace: dict[str, object]) -> None:
        self.fetch = fetch
        self.in_ram = in_ram
        self.namespace = dict(namespace, DIV=div, REM=rem, Trap=Trap)
        self.blocks: dict[int, Callable[[list[int], int], int]] = {}
        self.steps: dict[int, Callable[[list[int], int], int]] = {}
        self.translated = 0

    def flush(self) -> None:
        """Forget every translation (FENCE.I): code in RAM may have changed."""
        self.blocks.clear()
        self.steps.clear()

    def block(self, pc: int) -> Callable[[list[int], int], int]:
        fn = self.blocks.get(pc)
        if fn is None:
            fn = self.blocks[pc] = self._compile(pc, MAX_BLOCK)
        return fn

    def step(self, pc: int) -> Callable[[list[int], int], int]:
        """A function that runs exactly one instruction (never a loop)."""
        fn = self.steps.get(pc)
        if fn is None:
            fn = self.steps[pc] = self._compile(pc, 1, may_loop=False)
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
            if insn.op in isa.SYSTEM:
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
            if insn.op in isa.BRANCHES or insn.op == "jalr":
                return out, None
            pc = (pc + 4) & M32
        return out, pc

    def _compile(self, start: int, limit: int, may_loop: bool = True) -> Callable[[list[int], int], int]:
        insns, fallthrough = self._gather(start, limit)
        source = _BlockWriter(start, insns, fallthrough, may_loop).source()
        namespace = dict(self.namespace, PCS=tuple(pc for pc, _, _ in insns) + (0,))
        exec(compile(source, f"<block {start:#010x}>", "exec"), namespace)
        self.translated += 1
        return namespace["block"]  # type: ignore[return-value]


class _BlockWriter:
    """Writes the Python source of one block."""

    def __init__(self, start: int, insns: list[tuple[int, Insn | None, int]], fallthrough: int | None,
                 may_loop: bool = True) -> None:
        self.start = start
        self.insns = insns
        self.fallthrough = fallthrough
        self.lines: list[str] = []
        self.used: set[int] = set()
        self.written: set[int] = set()
        for _, insn, _ in insns:
            if insn is not None and insn.op not in isa.SYSTEM:  # system ones use X itself
                self.used.update(r for r in (insn.rd, insn.rs1, insn.rs2) if r)
                if insn.rd:
                    self.written.add(insn.rd)
        last = insns[-1][1]
        self.loops = may_loop and (last is not None and last.op in isa.BRANCHES
                      and (insns[-1][0] + last.imm) & M32 == start) or (
                          last is not None and last.op == "jal" and (insns[-1][0] + last.imm) & M32 == start)

    @staticmethod
    def reg(n: int) -> str:
        return f"r{n}" if n else "0"

    def source(self) -> str:
        body_indent = "            " if self.loops else "        "
        body: list[str] = []
        count = len(self.insns)
        for index, (pc, insn, word) in enumerate(self.insns):
            is_last = index == count - 1
            body.extend(body_indent + line for line in self._insn(index, pc, insn, word, is_last))
        lines = ["def block(X, fast_stop):"]
        lines += [f"    r{n} = X[{n}]" for n in sorted(self.used)]
        lines += ["    i = 0", "    try:"]
        if self.loops:
            lines += ["        n = C[0]", "        while True:", "            i = 0"]
        lines += body
        lines += [
            "    except BaseException as e:",
            *[f"        X[{n}] = r{n}" for n in sorted(self.used)],
            "        C[0] " + ("= n + i" if self.loops else "+= i"),
            "        e.reel_pc = PCS[i]",
            "        raise",
        ]
        lines += [f"    X[{n}] = r{n}" for n in sorted(self.written)]
        if self.loops:
            lines += ["    C[0] = n", "    return nxt"]
        else:
            lines += [f"    C[0] += {count}", "    return nxt"]
        return "\n".join(lines) + "\n"

    # --- one instruction -------------------------------------------------------------

    def _insn(self, index: int, pc: int, insn: Insn | None, word: int, is_last: bool) -> list[str]:
        if insn is None:
            return [f"i = {index}", f"raise Trap({isa.ILLEGAL_INSTRUCTION}, {word})"]
        op = insn.op
        rd, a, b = insn.rd, self.reg(insn.rs1), self.reg(insn.rs2)
        dest = f"r{rd}" if rd else "_"
        out: list[str] = []
        if op in _ALU or op in _IMM_FORMS:
            if rd:
                second = b if op in _ALU else str(insn.imm & M32)
                out.append(f"{dest} = " + _expr(_ALU[_IMM_FORMS.get(op, op)], a, second))
        elif op == "lui":
            if rd:
                out.append(f"{dest} = {insn.imm}")
        elif op == "auipc":
            if rd:
                out.append(f"{dest} = {(pc + insn.imm) & M32}")
        elif op == "fence":
            pass
        elif op in isa.LOADS:
            out += [f"i = {index}"] + self._load(insn, a, dest)
        elif op in isa.STORES:
            out += [f"i = {index}"] + self._store(insn, a, b)
        elif op == "jal":
            target = (pc + insn.imm) & M32
            if rd:
                out.append(f"{dest} = {(pc + 4) & M32}")
            if is_last:
                out += self._exit(target, looping=target == self.start, index=index)
        elif op == "jalr":
            out.append(f"t = ({a} + {insn.imm}) & 0xFFFFFFFE")
            if rd:
                out.append(f"{dest} = {(pc + 4) & M32}")
            out += [f"i = {index}", "if t & 3:", f"    raise Trap({isa.MISALIGNED_FETCH}, t)"]
            out += self._exit("t", looping=False, index=index)
        elif op in isa.BRANCHES:
            target = (pc + insn.imm) & M32
            cond = _expr(_BRANCH[op], a, b)
            if target & 3:
                taken = [f"i = {index}", f"raise Trap({isa.MISALIGNED_FETCH}, {target})"]
            else:
                taken = self._exit(target, target == self.start, index)
            out += [f"if {cond}:", *("    " + line for line in taken), "else:"]
            out += ["    " + line for line in self._exit((pc + 4) & M32, looping=False, index=index)]
        elif op in isa.SYSTEM:
            # Alone in its block: the hart runs it on X and says where to go on.
            out.append(f"nxt = SYS({pc}, {word})")
        else:
            raise AssertionError(f"no translation for {op}")
        if is_last and op not in isa.BRANCHES and op not in ("jal", "jalr") and op not in isa.SYSTEM:
            out += self._exit(self.fallthrough if self.fallthrough is not None else (pc + 4) & M32, False, index)
        return out

    def _exit(self, target: int | str, looping: bool, index: int) -> list[str]:
        """Leave the block (or go round again) towards ``target``."""
        if not self.loops:
            return [f"nxt = {target}"]
        if looping:
            return [f"n += {len(self.insns)}", "if n <= fast_stop:", "    continue", f"nxt = {target}", "break"]
        return [f"n += {len(self.insns)}", f"nxt = {target}", "break"]

    def _load(self, insn: Insn, a: str, dest: str) -> list[str]:
        size, signed = isa.LOADS[insn.op]
        off = f"o = {a} + {insn.imm - 0x80000000}"
        slow = f"LD(({a} + {insn.imm}) & 0xFFFFFFFF, {size})"
        if size == 4:
            fast = "W32[o >> 2] if 0 <= o < RAMSIZE and not o & 3 else " + slow
        elif size == 2:
            fast = "H16[o >> 1] if 0 <= o < RAMSIZE and not o & 1 else " + slow
        else:
            fast = "B8[o] if 0 <= o < RAMSIZE else " + slow
        lines = [off, f"{dest} = {fast}"]
        if signed and dest != "_":
            bits = 8 * size
            lines.append(f"{dest} = ({dest} ^ {1 << (bits - 1)}) - {1 << (bits - 1)} & 0xFFFFFFFF")
        return lines

    def _store(self, insn: Insn, a: str, b: str) -> list[str]:
        size = isa.STORES[insn.op]
        mask = (1 << (8 * size)) - 1
        value = b if size == 4 else f"{b} & {mask}"
        off = f"o = {a} + {insn.imm - 0x80000000}"
        slow = f"ST(({a} + {insn.imm}) & 0xFFFFFFFF, {size}, {value})"
        if size == 4:
            cond, view, index = "0 <= o < RAMSIZE and not o & 3", "W32", "o >> 2"
        elif size == 2:
            cond, view, index = "0 <= o < RAMSIZE and not o & 1", "H16", "o >> 1"
        else:
            cond, view, index = "0 <= o < RAMSIZE", "B8", "o"
        return [off, f"if {cond}:", f"    {view}[{index}] = {value}", "else:", f"    {slow}"]


def _expr(template: str, a: str, b: str) -> str:
    """Put operand names into a template's ``a`` and ``b`` (whole words only)."""
    return re.sub(r"\b([ab])\b", lambda m: a if m.group(1) == "a" else b, template)
