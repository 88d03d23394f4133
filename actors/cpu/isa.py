"""RV32IM + Zicsr instruction decoding.

``decode(word)`` gives an ``Insn``: the mnemonic and its operands with the
immediate already sign-extended. Every instruction is declared once, in
the tables below (funct3, and funct7 where it counts, -> mnemonic, one
table per major opcode); what it does is declared once too, in
``actors.cpu.semantics`` (computational instructions) and the translator
and interpreter built on it.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

# Trap causes (mcause values) from the RISC-V privileged spec.
MISALIGNED_FETCH = 0
FETCH_ACCESS_FAULT = 1
ILLEGAL_INSTRUCTION = 2
BREAKPOINT = 3
LOAD_ACCESS_FAULT = 5
STORE_ACCESS_FAULT = 7
ECALL_FROM_M = 11
INTERRUPT = 1 << 31
MACHINE_SOFTWARE_INTERRUPT = INTERRUPT | 3
MACHINE_TIMER_INTERRUPT = INTERRUPT | 7
MACHINE_EXTERNAL_INTERRUPT = INTERRUPT | 11


class Insn(NamedTuple):
    op: str  # mnemonic, lower case: "addi", "lw", "csrrw", ...
    rd: int = 0
    rs1: int = 0
    rs2: int = 0
    imm: int = 0  # sign-extended immediate (or zimm / shamt / csr number)
    csr: int = 0


class IllegalInstruction(Exception):
    """``word`` is not an RV32IM/Zicsr instruction this hart implements."""

    def __init__(self, word: int) -> None:
        super().__init__(f"illegal instruction {word:#010x}")
        self.word = word


# Instructions that end a translated block because they change control flow
# or machine state that the block cannot see (CSRs, privilege, caches).
BRANCHES = frozenset({"beq", "bne", "blt", "bge", "bltu", "bgeu"})
SYSTEM = frozenset({"ecall", "ebreak", "mret", "wfi", "fence.i",
                    "csrrw", "csrrs", "csrrc", "csrrwi", "csrrsi", "csrrci"})
LOADS = {"lb": (1, True), "lh": (2, True), "lw": (4, False), "lbu": (1, False), "lhu": (2, False)}
STORES = {"sb": 1, "sh": 2, "sw": 4}

_OP_IMM = {0: "addi", 2: "slti", 3: "sltiu", 4: "xori", 6: "ori", 7: "andi"}
_OP = {
    (0, 0x00): "add", (0, 0x20): "sub", (1, 0x00): "sll", (2, 0x00): "slt", (3, 0x00): "sltu",
    (4, 0x00): "xor", (5, 0x00): "srl", (5, 0x20): "sra", (6, 0x00): "or", (7, 0x00): "and",
    (0, 0x01): "mul", (1, 0x01): "mulh", (2, 0x01): "mulhsu", (3, 0x01): "mulhu",
    (4, 0x01): "div", (5, 0x01): "divu", (6, 0x01): "rem", (7, 0x01): "remu",
}
_BRANCH = {0: "beq", 1: "bne", 4: "blt", 5: "bge", 6: "bltu", 7: "bgeu"}
_LOAD = {0: "lb", 1: "lh", 2: "lw", 4: "lbu", 5: "lhu"}
_STORE = {0: "sb", 1: "sh", 2: "sw"}
_CSR = {1: "csrrw", 2: "csrrs", 3: "csrrc", 5: "csrrwi", 6: "csrrsi", 7: "csrrci"}
_EXACT_SYSTEM = {0x00000073: "ecall", 0x00100073: "ebreak", 0x30200073: "mret", 0x10500073: "wfi"}


def _sext(value: int, bits: int) -> int:
    sign = 1 << (bits - 1)
    return (value & (sign - 1)) - (value & sign)


def decode(word: int) -> Insn:
    """Decode one 32-bit instruction; raises ``IllegalInstruction``."""
    opcode = word & 0x7F
    rd = (word >> 7) & 0x1F
    funct3 = (word >> 12) & 7
    rs1 = (word >> 15) & 0x1F
    rs2 = (word >> 20) & 0x1F
    funct7 = word >> 25
    i_imm = _sext(word >> 20, 12)
    if opcode == 0x13:
        if funct3 == 1 and funct7 == 0:
            return Insn("slli", rd, rs1, imm=rs2)
        if funct3 == 5 and funct7 in (0, 0x20):
            return Insn("srli" if funct7 == 0 else "srai", rd, rs1, imm=rs2)
        if funct3 in _OP_IMM:
            return Insn(_OP_IMM[funct3], rd, rs1, imm=i_imm)
    elif opcode == 0x33 and (funct3, funct7) in _OP:
        return Insn(_OP[(funct3, funct7)], rd, rs1, rs2)
    elif opcode == 0x03 and funct3 in _LOAD:
        return Insn(_LOAD[funct3], rd, rs1, imm=i_imm)
    elif opcode == 0x23 and funct3 in _STORE:
        return Insn(_STORE[funct3], 0, rs1, rs2, _sext(((word >> 25) << 5) | rd, 12))
    elif opcode == 0x63 and funct3 in _BRANCH:
        imm = ((word >> 31) << 12) | (((word >> 7) & 1) << 11) | (((word >> 25) & 0x3F) << 5) | (((word >> 8) & 0xF) << 1)
        return Insn(_BRANCH[funct3], 0, rs1, rs2, _sext(imm, 13))
    elif opcode == 0x37:
        return Insn("lui", rd, imm=word & 0xFFFFF000)
    elif opcode == 0x17:
        return Insn("auipc", rd, imm=word & 0xFFFFF000)
    elif opcode == 0x6F:
        imm = ((word >> 31) << 20) | (((word >> 12) & 0xFF) << 12) | (((word >> 20) & 1) << 11) | (((word >> 21) & 0x3FF) << 1)
        return Insn("jal", rd, imm=_sext(imm, 21))
    elif opcode == 0x67 and funct3 == 0:
        return Insn("jalr", rd, rs1, imm=i_imm)
    elif opcode == 0x0F and funct3 == 0:
        return Insn("fence")
    elif opcode == 0x0F and funct3 == 1:
        return Insn("fence.i")
    elif opcode == 0x73:
        if funct3 == 0 and word in _EXACT_SYSTEM:
            return Insn(_EXACT_SYSTEM[word])
        if funct3 in _CSR:
            return Insn(_CSR[funct3], rd, rs1, imm=rs1, csr=word >> 20)
    raise IllegalInstruction(word)


@functools.lru_cache(maxsize=4096)
def decode_cached(word: int) -> Insn:
    """``decode``, remembered: for the interpreter, which decodes the same
    words (``addi sp, sp, -16``, ``ret``, ...) at many pcs."""
    return decode(word)
