"""What each RV32IM computational instruction does, written once.

Instructions are described as Python expression templates: operands in
(their text in generated code, and the largest value each can hold), a
Python expression and the bound of its value out. Both ways of running
guest code derive from these tables: translated blocks
(``actors.cpu.translate``), which know registers and immediates when they
write code, and the single-step interpreter (``actors.cpu.step``), which
takes them as arguments.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

from .hart import M32

S = 0x80000000  # the sign bit: x ^ S orders unsigned words as signed ones


class Operand(NamedTuple):
    """An instruction operand in generated code: its Python text (a local
    or a constant) and the largest value it can hold at that point."""

    text: str
    bound: int

    @property
    def const(self) -> bool:
        return self.text.isdigit()

    @property
    def small(self) -> bool:
        """Its sign bit is clear: signed and unsigned readings agree."""
        return self.bound < S


def _ones(bound: int) -> int:
    return (1 << bound.bit_length()) - 1


def _masked(expr: str, bound: int) -> tuple[str, int]:
    """``expr`` reduced to 32 bits only if its bound says it may not fit."""
    return (expr, bound) if bound <= M32 else (f"({expr}) & 0xFFFFFFFF", M32)


def _signed(x: Operand) -> str:
    return x.text if x.small else f"(({x.text} ^ 0x80000000) - 0x80000000)"


# The instructions whose result is a ring operation on its operands: the
# expression before reduction to 32 bits is congruent to the result modulo
# 2**32 whatever operands congruent to the registers it is given. A block
# may leave such a value unreduced while it only feeds more of them (or an
# address, or an AND with a reduced operand) and reduce it once, where a
# reduced value is needed (see actors.cpu.translate). Operands reduced, the
# value lies in [-bound of b, bound] (``sub`` may go below zero).
MODULAR: dict[str, Callable[[Operand, Operand], tuple[str, int]]] = {
    "add": lambda a, b: (f"{a.text} + {b.text}", a.bound + b.bound),
    "sub": lambda a, b: (f"{a.text} - {b.text}", a.bound),
    "mul": lambda a, b: (f"{a.text} * {b.text}", a.bound * b.bound),
}


def _reduced(op: str) -> Callable[[Operand, Operand], tuple[str, int]]:
    """``op`` of MODULAR with its value reduced to 32 bits where it may not fit."""
    if op == "sub":  # may go below zero: always reduced
        return lambda a, b: (f"({MODULAR[op](a, b)[0]}) & 0xFFFFFFFF", M32)
    return lambda a, b: _masked(*MODULAR[op](a, b))


# What each computational instruction does, written once: operands in,
# (Python expression, bound of its value) out. The bounds let a block skip
# the 32-bit reduction, and signed/unsigned conversions, that cannot matter.
ALU: dict[str, Callable[[Operand, Operand], tuple[str, int]]] = {
    "add": _reduced("add"),
    "sub": _reduced("sub"),
    "sll": lambda a, b: (f"({a.text} << ({b.text} & 31)) & 0xFFFFFFFF", M32),
    "slli": lambda a, b: _masked(f"{a.text} << {b.text}", a.bound << int(b.text)),
    "srl": lambda a, b: (f"{a.text} >> ({b.text} & 31)", a.bound),
    "srli": lambda a, b: (f"{a.text} >> {b.text}", a.bound >> int(b.text)),
    "sra": lambda a, b: (f"{a.text} >> ({b.text} & 31)", a.bound) if a.small
    else (f"({_signed(a)} >> ({b.text} & 31)) & 0xFFFFFFFF", M32),
    "srai": lambda a, b: (f"{a.text} >> {b.text}", a.bound >> int(b.text)) if a.small
    else (f"({_signed(a)} >> {b.text}) & 0xFFFFFFFF", M32),
    "slt": lambda a, b: (f"1 if {a.text} < {b.text} else 0", 1) if a.small and b.small
    else (f"1 if ({a.text} ^ 0x80000000) < ({b.text} ^ 0x80000000) else 0", 1),
    "sltu": lambda a, b: (f"1 if {a.text} < {b.text} else 0", 1),
    "xor": lambda a, b: (f"{a.text} ^ {b.text}", _ones(max(a.bound, b.bound))),
    "or": lambda a, b: (f"{a.text} | {b.text}", _ones(max(a.bound, b.bound))),
    "and": lambda a, b: (f"{a.text} & {b.text}", min(a.bound, b.bound)),
    "mul": _reduced("mul"),
    "mulh": lambda a, b: (f"(({_signed(a)} * {_signed(b)}) >> 32) & 0xFFFFFFFF", M32),
    "mulhsu": lambda a, b: (f"(({_signed(a)} * {b.text}) >> 32) & 0xFFFFFFFF", M32),
    "mulhu": lambda a, b: (f"({a.text} * {b.text}) >> 32", M32),
    "div": lambda a, b: (f"DIV({a.text}, {b.text})", M32),
    "divu": lambda a, b: (f"{a.text} // {b.text} if {b.text} else 0xFFFFFFFF", M32),
    "rem": lambda a, b: (f"REM({a.text}, {b.text})", M32),
    "remu": lambda a, b: (f"{a.text} % {b.text} if {b.text} else {a.text}", a.bound),
}
# The immediate forms are the register forms with b = the immediate.
IMM_FORMS = {"addi": "add", "slti": "slt", "sltiu": "sltu", "xori": "xor", "ori": "or", "andi": "and",
              "slli": "slli", "srli": "srli", "srai": "srai"}

BRANCH: dict[str, Callable[[Operand, Operand], str]] = {
    "beq": lambda a, b: f"{a.text} == {b.text}",
    "bne": lambda a, b: f"{a.text} != {b.text}",
    "blt": lambda a, b: f"{a.text} < {b.text}" if a.small and b.small
    else f"({a.text} ^ 0x80000000) < ({b.text} ^ 0x80000000)",
    "bge": lambda a, b: f"{a.text} >= {b.text}" if a.small and b.small
    else f"({a.text} ^ 0x80000000) >= ({b.text} ^ 0x80000000)",
    "bltu": lambda a, b: f"{a.text} < {b.text}",
    "bgeu": lambda a, b: f"{a.text} >= {b.text}",
}
LOAD_BOUND = {"lb": M32, "lh": M32, "lw": M32, "lbu": 0xFF, "lhu": 0xFFFF}


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
