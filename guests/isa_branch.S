/*
 * isa_branch: the conditional branches (beq, bne, blt, bge, bltu, bgeu)
 * taken and not taken, forward and backward, with signed/unsigned edge
 * values; branch offsets at their limits (+4092, the largest offset with a
 * 4-byte-aligned target, and -4096), a not-taken branch whose target
 * would be misaligned (+4094, no trap allowed); jal and jalr: link values,
 * rd = x0, jalr clearing bit 0 of the target, jalr offsets -2048/2047,
 * jalr with rd == rs1.
 * One line per group; exit code = number of the first failing test.
 */
#include "isa.h"

/* The branch must be taken (forward). */
.macro BR_TAKEN op, v1, v2
    TEST_NEXT
    li      a1, \v1
    li      a2, \v2
    \op     a1, a2, 8803f
    j       isa_fail
8803:
.endm

/* The branch must be taken (backward). */
.macro BR_TAKEN_BACK op, v1, v2
    TEST_NEXT
    li      a1, \v1
    li      a2, \v2
    j       8805f
8804:
    j       8806f               /* the backward target */
8805:
    \op     a1, a2, 8804b
    j       isa_fail
8806:
.endm

/* The branch must fall through. */
.macro BR_NOT op, v1, v2
    TEST_NEXT
    li      a1, \v1
    li      a2, \v2
    \op     a1, a2, 8807f
    j       8808f
8807:
    j       isa_fail
8808:
.endm

/* All six branches on one pair of values; t_* is 1 when taken. */
.macro BR_ALL v1, v2, t_eq, t_ne, t_lt, t_ge, t_ltu, t_geu
    BR_ONE beq,  \t_eq,  \v1, \v2
    BR_ONE bne,  \t_ne,  \v1, \v2
    BR_ONE blt,  \t_lt,  \v1, \v2
    BR_ONE bge,  \t_ge,  \v1, \v2
    BR_ONE bltu, \t_ltu, \v1, \v2
    BR_ONE bgeu, \t_geu, \v1, \v2
.endm
.macro BR_ONE op, taken, v1, v2
    .if \taken
    BR_TAKEN \op, \v1, \v2
    .else
    BR_NOT \op, \v1, \v2
    .endif
.endm

    .text
    .globl main
main:
    /* ---- every branch on edge pairs (signed and unsigned order differ) ---- */
    /*       v1          v2          eq ne lt ge ltu geu */
    BR_ALL 0x00000000, 0x00000000,  1, 0, 0, 1, 0, 1
    BR_ALL 0x00000001, 0x00000001,  1, 0, 0, 1, 0, 1
    BR_ALL 0x00000000, 0x00000001,  0, 1, 1, 0, 1, 0
    BR_ALL 0x00000001, 0x00000000,  0, 1, 0, 1, 0, 1
    BR_ALL 0xffffffff, 0x00000000,  0, 1, 1, 0, 0, 1
    BR_ALL 0x00000000, 0xffffffff,  0, 1, 0, 1, 1, 0
    BR_ALL 0x80000000, 0x7fffffff,  0, 1, 1, 0, 0, 1
    BR_ALL 0x7fffffff, 0x80000000,  0, 1, 0, 1, 1, 0
    BR_ALL 0x80000000, 0xffffffff,  0, 1, 1, 0, 1, 0
    BR_ALL 0xffffffff, 0xffffffff,  1, 0, 0, 1, 0, 1
    BR_ALL 0x80000000, 0x80000000,  1, 0, 0, 1, 0, 1
    GROUP_OK "branch conditions"

    /* ---- backward branches and rs1 == rs2 ---- */
    BR_TAKEN_BACK beq,  5, 5
    BR_TAKEN_BACK bne,  5, 6
    BR_TAKEN_BACK blt,  0xfffffffb, 5
    BR_TAKEN_BACK bge,  5, 0xfffffffb
    BR_TAKEN_BACK bltu, 5, 0xfffffffb
    BR_TAKEN_BACK bgeu, 0xfffffffb, 5
    TEST_NEXT                   /* bge/bgeu/beq of a register with itself */
    li      a1, 0x80000000
    bne     a1, a1, 1f
    blt     a1, a1, 1f
    bltu    a1, a1, 1f
    beq     a1, a1, 2f
1:  j       isa_fail
2:  bge     a1, a1, 3f
    j       isa_fail
3:  bgeu    a1, a1, 4f
    j       isa_fail
4:  GROUP_OK "backward"

    /* ---- branch offsets at their limits ---- */
    /* (objdump -d shows the two distances: 0xffc and -0x1000) */
    TEST_NEXT                   /* +4092: largest aligned forward offset */
far_fwd_branch:
    beq     x0, x0, far_fwd_target
    .rept   (4092 - 4) / 4
    j       isa_fail
    .endr
far_fwd_target:
    TEST_NEXT                   /* -4096: the most negative offset */
    j       far_back_branch
far_back_target:
    j       far_back_done
    .rept   (4096 - 4) / 4
    j       isa_fail
    .endr
far_back_branch:
    bgeu    x0, x0, far_back_target
    j       isa_fail
far_back_done:
    TEST_NEXT                   /* +4094 and +6 not taken: no trap even */
    li      a1, 1               /* though the target is misaligned */
    beq     a1, x0, . + 4094
    bne     a1, a1, . + 6
    bltu    a1, x0, . - 2
    GROUP_OK "branch offsets"

    /* ---- jal ---- */
    TEST_NEXT                   /* link = address of the next instruction */
    jal     a3, 2f
1:  j       isa_fail
2:  la      a4, 1b
    EXPECT_A4
    TEST_NEXT                   /* jal backward */
    j       2f
1:  j       3f
2:  jal     a3, 1b
    j       isa_fail
3:  la      a4, 2b + 4
    EXPECT_A4
    TEST_NEXT                   /* jal x0 writes nothing */
    li      a3, 0x1234
    jal     x0, 1f
    j       isa_fail
1:  EXPECT  0x1234
    GROUP_OK "jal"

    /* ---- jalr ---- */
    TEST_NEXT                   /* plain jalr: target, link */
    la      a1, 2f
    jalr    a3, 0(a1)
1:  j       isa_fail
2:  la      a4, 1b
    EXPECT_A4
    TEST_NEXT                   /* odd target: bit 0 is cleared */
    la      a1, 2f
    addi    a1, a1, 1
    jalr    a3, 0(a1)
1:  j       isa_fail
2:  la      a4, 1b
    EXPECT_A4
    TEST_NEXT                   /* odd immediate: bit 0 of the sum cleared */
    la      a1, 2f
    jalr    a3, 1(a1)
    j       isa_fail
2:  TEST_NEXT                   /* negative immediate -2048 */
    la      a1, 2f + 2048
    jalr    a3, -2048(a1)
    j       isa_fail
2:  TEST_NEXT                   /* immediate 2047 (+ odd base -> even) */
    la      a1, 2f - 2047
    jalr    a3, 2047(a1)
    j       isa_fail
2:  TEST_NEXT                   /* rd == rs1: jumps to the old value */
    la      a3, 2f
    jalr    a3, 0(a3)
1:  j       isa_fail
2:  la      a4, 1b
    EXPECT_A4
    TEST_NEXT                   /* jalr x0 (jr) writes nothing */
    la      a1, 1f
    li      a3, 0x5678
    jalr    x0, 0(a1)
    j       isa_fail
1:  EXPECT  0x5678
    TEST_NEXT                   /* call / ret through a function */
    li      a0, 20
    call    add_22
    mv      a3, a0
    EXPECT  42
    TEST_NEXT                   /* jalr backward to a loop head: 5 rounds */
    li      a3, 0
    li      a1, 5
    la      a2, 1f
1:  addi    a3, a3, 3
    addi    a1, a1, -1
    beqz    a1, 2f
    jalr    x0, 0(a2)
2:  EXPECT  15
    GROUP_OK "jalr"

    ISA_PASS

add_22:
    addi    a0, a0, 22
    ret

    ISA_FAIL_HANDLER
