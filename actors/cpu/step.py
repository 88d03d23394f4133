"""The single-step interpreter: one instruction at a time, nothing compiled
per instruction.

Exact stops need it: the run loop stops at exact icounts (every poll, every
checkpoint, the timer deadline), and the instructions just before a stop
that no whole block fits run one by one. Compiling a function for each such
pc (as translated blocks are) cost about a millisecond apiece, at ever new
pcs; here each kind of instruction has one function, written once from the
tables of ``actors.cpu.semantics`` with its registers and immediate taken
from the decoded instruction, and a step binds it to a pc::

    def op_add(X, fast_stop, P, I, W):   # P: pc, I: the Insn, W: its word
        v = (X[I.rs1] + X[I.rs2]) & 0xFFFFFFFF
        if I.rd: X[I.rd] = v
        C[0] += 1
        return (P + 4) & 0xFFFFFFFF

A step behaves as a translated block of one instruction: on a trap nothing
is written and icount does not move; a load or store outside RAM goes
through the same ``LD``/``ST`` slow paths.
"""

from __future__ import annotations

import functools
from types import CodeType
from typing import Any, Callable

from . import isa
from .hart import M32
from .semantics import ALU, BRANCH, IMM_FORMS, Operand

Step = Callable[[list[int], int], int]

_X1 = Operand("X[I.rs1]", M32)
_X2 = Operand("X[I.rs2]", M32)
_IMM = Operand("(I.imm & 0xFFFFFFFF)", M32)
_SHAMT = Operand("I.imm", 31)
# The shift-immediate templates fold their constant shift amount into the
# code; here the amount is an argument, so they take the register forms
# (whose `& 31` changes nothing for an amount below 32).
_SHIFT_IMM = {"slli": "sll", "srli": "srl", "srai": "sra"}

_VIEWS = {4: ("W32", 2), 2: ("H16", 1), 1: ("B8", 0)}
_NEXT = "(P + 4) & 0xFFFFFFFF"
_MISALIGNED = f"raise Trap({isa.MISALIGNED_FETCH}, t)"


def _alu(op: str) -> list[str]:
    if op in _SHIFT_IMM:
        expr, _ = ALU[_SHIFT_IMM[op]](_X1, _SHAMT)
    elif op in IMM_FORMS:
        expr, _ = ALU[IMM_FORMS[op]](_X1, _IMM)
    else:
        expr, _ = ALU[op](_X1, _X2)
    return [f"v = {expr}", "if I.rd: X[I.rd] = v"]


def _load(op: str) -> list[str]:
    size, signed = isa.LOADS[op]
    view, shift = _VIEWS[size]
    lines = ["a = (X[I.rs1] + I.imm) & 0xFFFFFFFF", "o = a - 0x80000000",
             f"v = {view}[o >> {shift}] if 0 <= o < RAMSIZE and not o & {size - 1} else LD(a, {size}, 0, 0, W)"]
    if signed:
        sign = 1 << (8 * size - 1)
        lines.append(f"v = (v ^ {sign}) - {sign} & 0xFFFFFFFF")
    return [*lines, "if I.rd: X[I.rd] = v"]


def _store(op: str) -> list[str]:
    size = isa.STORES[op]
    view, shift = _VIEWS[size]
    value = "X[I.rs2]" if size == 4 else f"X[I.rs2] & {(1 << (8 * size)) - 1}"
    return ["a = (X[I.rs1] + I.imm) & 0xFFFFFFFF", "o = a - 0x80000000",
            f"if 0 <= o < RAMSIZE and not o & {size - 1}:", f"    {view}[o >> {shift}] = {value}",
            "else:", f"    ST(a, {size}, {value}, 0, 0)"]


def _body(op: str) -> list[str]:
    """The lines of one kind of instruction, ending in a return of the next pc."""
    if op in ALU or op in IMM_FORMS:
        return [*_alu(op), "C[0] += 1", f"return {_NEXT}"]
    if op in isa.LOADS:
        return [*_load(op), "C[0] += 1", f"return {_NEXT}"]
    if op in isa.STORES:
        return [*_store(op), "C[0] += 1", f"return {_NEXT}"]
    if op in BRANCH:
        return [f"if {BRANCH[op](_X1, _X2)}:", "    t = (P + I.imm) & 0xFFFFFFFF", f"    if t & 3: {_MISALIGNED}",
                "    C[0] += 1", "    return t", "C[0] += 1", f"return {_NEXT}"]
    if op == "lui":
        return ["if I.rd: X[I.rd] = I.imm", "C[0] += 1", f"return {_NEXT}"]
    if op == "auipc":
        return ["if I.rd: X[I.rd] = (P + I.imm) & 0xFFFFFFFF", "C[0] += 1", f"return {_NEXT}"]
    if op == "fence":
        return ["C[0] += 1", f"return {_NEXT}"]
    if op in ("jal", "jalr"):  # the target is checked first: a jump that traps writes no link
        target = "(P + I.imm) & 0xFFFFFFFF" if op == "jal" else "(X[I.rs1] + I.imm) & 0xFFFFFFFE"
        return [f"t = {target}", f"if t & 3: {_MISALIGNED}", f"if I.rd: X[I.rd] = {_NEXT}", "C[0] += 1",
                "return t"]
    if op in isa.SYSTEM:  # the hart runs it on X and says where to go on
        return ["nxt = SYS(P, W)", "C[0] += 1", "return nxt"]
    raise AssertionError(f"no step for {op}")


def _ops() -> list[str]:
    return sorted({*ALU, *IMM_FORMS, *isa.LOADS, *isa.STORES, *BRANCH, *isa.SYSTEM,
                   "lui", "auipc", "fence", "jal", "jalr"})


@functools.cache
def _code() -> CodeType:
    """Every kind's function, compiled once per process."""
    lines: list[str] = []
    for op in _ops():
        lines.append(f"def op_{op.replace('.', '_')}(X, fast_stop, P, I, W):")
        lines += ["    " + line for line in _body(op)]
    lines += ["def illegal(X, fast_stop, P, I, W):", f"    raise Trap({isa.ILLEGAL_INSTRUCTION}, W)"]
    return compile("\n".join(lines) + "\n", "<single steps>", "exec")


class Stepper:
    """Makes one-instruction steps over a machine's ``namespace`` (the same
    one translated blocks use: RAM views, ``LD``/``ST``/``SYS``, ``C``)."""

    def __init__(self, namespace: dict[str, object]) -> None:
        scope: dict[str, Any] = dict(namespace)
        exec(_code(), scope)  # noqa: S102 (our own code, compiled above)
        self.ops: dict[str, Callable[..., int]] = {op: scope[f"op_{op.replace('.', '_')}"] for op in _ops()}
        self.illegal: Callable[..., int] = scope["illegal"]

    def bind(self, pc: int, word: int) -> Step:
        """A step running the instruction ``word`` at ``pc``."""
        try:
            insn = isa.decode_cached(word)
        except isa.IllegalInstruction:
            return functools.partial(self.illegal, P=pc, I=None, W=word)
        return functools.partial(self.ops[insn.op], P=pc, I=insn, W=word)
