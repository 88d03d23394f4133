/*
 * isa_alu: every RV32I computational instruction (lui, auipc, the
 * register-immediate and register-register ALU ops), with the edge values
 * 0, 1, -1, 0x7fffffff, 0x80000000, immediates at -2048/2047, shift amounts
 * that use only their low 5 bits, signed against unsigned compares, writes
 * to x0 being ignored, and every register number as rd/rs1/rs2.
 * One line per group; exit code = number of the first failing test.
 */
#include "isa.h"

    .text
    .globl main
main:
    /* ---- lui: imm << 12, low 12 bits zero ---- */
    TEST_NEXT
    lui     a3, 0
    EXPECT  0
    TEST_NEXT
    lui     a3, 0x12345
    EXPECT  0x12345000
    TEST_NEXT
    lui     a3, 0x7ffff
    EXPECT  0x7ffff000
    TEST_NEXT
    lui     a3, 0x80000
    EXPECT  0x80000000
    TEST_NEXT
    lui     a3, 0xfffff
    EXPECT  0xfffff000
    TEST_NEXT                   /* lui + sign-extended addi, as `li` does */
    lui     a3, 0x12345
    addi    a3, a3, -1
    EXPECT  0x12344fff
    GROUP_OK "lui"

    /* ---- auipc: pc + (imm << 12); the pc comes from jal's link ---- */
    TEST_NEXT
    jal     a4, 1f
1:  auipc   a3, 0
    EXPECT_A4
    TEST_NEXT
    jal     a4, 1f
1:  auipc   a3, 0x12345
    li      a5, 0x12345000
    add     a4, a4, a5
    EXPECT_A4
    TEST_NEXT                   /* negative: pc - 4096 */
    jal     a4, 1f
1:  auipc   a3, 0xfffff
    addi    a4, a4, -2048
    addi    a4, a4, -2048
    EXPECT_A4
    TEST_NEXT                   /* pc + 0x80000000 wraps around */
    jal     a4, 1f
1:  auipc   a3, 0x80000
    li      a5, 0x80000000
    add     a4, a4, a5
    EXPECT_A4
    GROUP_OK "auipc"

    /* ---- addi ---- */
    TEST_IMM    addi, 0x00000000, 0x00000000, 0
    TEST_IMM    addi, 0x00000002, 0x00000001, 1
    TEST_IMM    addi, 0x0000000a, 0x00000003, 7
    TEST_IMM    addi, 0xfffff800, 0x00000000, -2048
    TEST_IMM    addi, 0x000007ff, 0x00000000, 2047
    TEST_IMM    addi, 0x80000000, 0x7fffffff, 1
    TEST_IMM    addi, 0x7fffffff, 0x80000000, -1
    TEST_IMM    addi, 0x00000000, 0xffffffff, 1
    TEST_IMM    addi, 0x800007fe, 0x7fffffff, 2047
    TEST_IMM    addi, 0x7ffff800, 0x80000000, -2048
    TEST_IMM_D1 addi, 0x00000018, 0x0000000d, 11
    GROUP_OK "addi"

    /* ---- slti / sltiu: the immediate is sign-extended in both ---- */
    TEST_IMM    slti, 0, 0x00000000, 0
    TEST_IMM    slti, 0, 0x00000001, 1
    TEST_IMM    slti, 1, 0x00000003, 7
    TEST_IMM    slti, 0, 0x00000007, 3
    TEST_IMM    slti, 1, 0x80000000, 0
    TEST_IMM    slti, 0, 0x7fffffff, -1
    TEST_IMM    slti, 1, 0xffffffff, 0
    TEST_IMM    slti, 0, 0x00000000, -1
    TEST_IMM    slti, 0, 0xfffff800, -2048
    TEST_IMM    slti, 1, 0xfffff7ff, -2048
    TEST_IMM    slti, 0, 0x7fffffff, 2047
    TEST_IMM    slti, 1, 0x000007fe, 2047
    TEST_IMM_D1 slti, 1, 0x80000000, -2048
    GROUP_OK "slti"

    TEST_IMM    sltiu, 1, 0x00000000, 1
    TEST_IMM    sltiu, 0, 0x00000001, 1
    TEST_IMM    sltiu, 1, 0x00000000, -1      /* 0 < 0xffffffff */
    TEST_IMM    sltiu, 0, 0xffffffff, -1
    TEST_IMM    sltiu, 1, 0xfffffffe, -1
    TEST_IMM    sltiu, 0, 0x80000000, 2047
    TEST_IMM    sltiu, 1, 0x7fffffff, -2048   /* < 0xfffff800 */
    TEST_IMM    sltiu, 0, 0xfffff800, -2048
    TEST_IMM    sltiu, 0, 0x00000000, 0
    TEST_IMM_D1 sltiu, 1, 0x000007fe, 2047
    GROUP_OK "sltiu"

    /* ---- xori / ori / andi (sign-extended immediate) ---- */
    TEST_IMM    xori, 0xff00f00f, 0x00ff0f00, -241     /* imm 0xf0f -> 0xffffff0f */
    TEST_IMM    xori, 0x0ff00ff0, 0x0ff00f00, 0x0f0
    TEST_IMM    xori, 0x00ff0ff0, 0x00ff08ff, 0x70f
    TEST_IMM    xori, 0xedcba987, 0x12345678, -1       /* not */
    TEST_IMM    xori, 0x80000000, 0x80000000, 0
    TEST_IMM_D1 xori, 0xf00ff0ff, 0xf00ff00f, 0x0f0
    GROUP_OK "xori"

    TEST_IMM    ori,  0xffffff0f, 0xff00ff00, -241
    TEST_IMM    ori,  0x0ff00ff0, 0x0ff00ff0, 0x0f0
    TEST_IMM    ori,  0x00ff07ff, 0x00ff00ff, 0x70f
    TEST_IMM    ori,  0xf00ff0ff, 0xf00ff00f, 0x0f0
    TEST_IMM    ori,  0xffffffff, 0x00000000, -1
    TEST_IMM_D1 ori,  0xff00fff0, 0xff00ff00, 0x0f0
    GROUP_OK "ori"

    TEST_IMM    andi, 0xff00ff00, 0xff00ff00, -241
    TEST_IMM    andi, 0x000000f0, 0x0ff00ff0, 0x0f0
    TEST_IMM    andi, 0x0000000f, 0x00ff00ff, 0x70f
    TEST_IMM    andi, 0x00000000, 0xf00ff00f, 0x0f0
    TEST_IMM    andi, 0x80000000, 0x80000000, -2048
    TEST_IMM    andi, 0x000007ff, 0xffffffff, 2047
    TEST_IMM_D1 andi, 0x00000000, 0xff00ff00, 0x0f0
    GROUP_OK "andi"

    /* ---- slli / srli / srai (shamt 0..31) ---- */
    TEST_IMM    slli, 0x00000001, 0x00000001, 0
    TEST_IMM    slli, 0x00000002, 0x00000001, 1
    TEST_IMM    slli, 0x00000080, 0x00000001, 7
    TEST_IMM    slli, 0x80000000, 0x00000001, 31
    TEST_IMM    slli, 0xfffffffe, 0xffffffff, 1
    TEST_IMM    slli, 0x80000000, 0xffffffff, 31
    TEST_IMM    slli, 0x48484000, 0x21212121, 14
    TEST_IMM_D1 slli, 0x00000080, 0x00000001, 7
    GROUP_OK "slli"

    TEST_IMM    srli, 0x80000000, 0x80000000, 0
    TEST_IMM    srli, 0x40000000, 0x80000000, 1
    TEST_IMM    srli, 0x01000000, 0x80000000, 7
    TEST_IMM    srli, 0x00000001, 0x80000000, 31
    TEST_IMM    srli, 0x7fffffff, 0xffffffff, 1
    TEST_IMM    srli, 0x00000001, 0xffffffff, 31
    TEST_IMM    srli, 0x00008484, 0x21212121, 14
    TEST_IMM_D1 srli, 0x01000000, 0x80000000, 7
    GROUP_OK "srli"

    TEST_IMM    srai, 0x80000000, 0x80000000, 0
    TEST_IMM    srai, 0xc0000000, 0x80000000, 1
    TEST_IMM    srai, 0xff000000, 0x80000000, 7
    TEST_IMM    srai, 0xffffffff, 0x80000000, 31
    TEST_IMM    srai, 0x3fffffff, 0x7fffffff, 1
    TEST_IMM    srai, 0x00000000, 0x7fffffff, 31
    TEST_IMM    srai, 0xfffe0606, 0x81818181, 14
    TEST_IMM    srai, 0x00008484, 0x21212121, 14
    TEST_IMM_D1 srai, 0xff000000, 0x80000000, 7
    GROUP_OK "srai"

    /* ---- add / sub (wrap around, no overflow trap) ---- */
    TEST_RR     add, 0x00000000, 0x00000000, 0x00000000
    TEST_RR     add, 0x0000000a, 0x00000003, 0x00000007
    TEST_RR     add, 0x80000000, 0x7fffffff, 0x00000001
    TEST_RR     add, 0x00000000, 0xffffffff, 0x00000001
    TEST_RR     add, 0x00000000, 0x80000000, 0x80000000
    TEST_RR     add, 0x7fffffff, 0x80000000, 0xffffffff
    TEST_RR     add, 0xfffffffe, 0x7fffffff, 0x7fffffff
    TEST_RR_D1  add, 0x00000018, 0x0000000d, 0x0000000b
    TEST_RR_D2  add, 0x00000018, 0x0000000d, 0x0000000b
    TEST_RR_D12 add, 0x0000001a, 0x0000000d
    GROUP_OK "add"

    TEST_RR     sub, 0x00000000, 0x00000000, 0x00000000
    TEST_RR     sub, 0xfffffffc, 0x00000003, 0x00000007
    TEST_RR     sub, 0xffffffff, 0x00000000, 0x00000001
    TEST_RR     sub, 0x7fffffff, 0x80000000, 0x00000001
    TEST_RR     sub, 0x80000001, 0x00000000, 0x7fffffff
    TEST_RR     sub, 0x80000000, 0x00000000, 0x80000000
    TEST_RR     sub, 0x80000000, 0x7fffffff, 0xffffffff
    TEST_RR_D1  sub, 0x00000002, 0x0000000d, 0x0000000b
    TEST_RR_D2  sub, 0x00000002, 0x0000000d, 0x0000000b
    TEST_RR_D12 sub, 0x00000000, 0x0000000d
    GROUP_OK "sub"

    /* ---- sll / srl / sra: only the low 5 bits of rs2 count ---- */
    TEST_RR     sll, 0x00000001, 0x00000001, 0
    TEST_RR     sll, 0x00000080, 0x00000001, 7
    TEST_RR     sll, 0x80000000, 0x00000001, 31
    TEST_RR     sll, 0x00000002, 0x00000001, 33          /* 33 & 31 = 1 */
    TEST_RR     sll, 0x00000001, 0x00000001, 32          /* 32 & 31 = 0 */
    TEST_RR     sll, 0x80000000, 0x00000001, 0xffffffff  /* -1 & 31 = 31 */
    TEST_RR     sll, 0x48484000, 0x21212121, 0xffffffee  /* 14 */
    TEST_RR_D1  sll, 0x00000080, 0x00000001, 7
    TEST_RR_D2  sll, 0x00004000, 0x00000001, 14
    TEST_RR_D12 sll, 0x00000018, 0x00000003
    GROUP_OK "sll"

    TEST_RR     srl, 0x80000000, 0x80000000, 0
    TEST_RR     srl, 0x01000000, 0x80000000, 7
    TEST_RR     srl, 0x00000001, 0x80000000, 31
    TEST_RR     srl, 0x7fffffff, 0xffffffff, 33
    TEST_RR     srl, 0xffffffff, 0xffffffff, 32
    TEST_RR     srl, 0x00000001, 0xffffffff, 0xffffffff
    TEST_RR     srl, 0x00008484, 0x21212121, 0xffffffee
    TEST_RR_D1  srl, 0x01000000, 0x80000000, 7
    TEST_RR_D2  srl, 0x00000001, 0x00004000, 14
    TEST_RR_D12 srl, 0x00000000, 0x00000007
    GROUP_OK "srl"

    TEST_RR     sra, 0x80000000, 0x80000000, 0
    TEST_RR     sra, 0xff000000, 0x80000000, 7
    TEST_RR     sra, 0xffffffff, 0x80000000, 31
    TEST_RR     sra, 0xc0000000, 0x80000000, 33
    TEST_RR     sra, 0x80000000, 0x80000000, 32
    TEST_RR     sra, 0x00000000, 0x7fffffff, 0xffffffff
    TEST_RR     sra, 0xfffe0606, 0x81818181, 0xffffffee
    TEST_RR_D1  sra, 0xff000000, 0x80000000, 7
    TEST_RR_D2  sra, 0xfffe0000, 0x80000000, 14
    TEST_RR_D12 sra, 0xc0000000, 0x80000001     /* shift by 1 */
    GROUP_OK "sra"

    /* ---- slt / sltu: signed against unsigned at the edges ---- */
    TEST_RR     slt,  0, 0x00000000, 0x00000000
    TEST_RR     slt,  1, 0x00000003, 0x00000007
    TEST_RR     slt,  0, 0x00000007, 0x00000003
    TEST_RR     slt,  1, 0x80000000, 0x7fffffff
    TEST_RR     slt,  0, 0x7fffffff, 0x80000000
    TEST_RR     slt,  1, 0xffffffff, 0x00000000
    TEST_RR     slt,  0, 0x00000000, 0xffffffff
    TEST_RR     slt,  1, 0x80000000, 0xffffffff
    TEST_RR     slt,  0, 0xffffffff, 0xffffffff
    TEST_RR_D1  slt,  1, 0xfffffffe, 0xffffffff
    TEST_RR_D2  slt,  1, 0xfffffffe, 0xffffffff
    TEST_RR_D12 slt,  0, 0x80000000
    GROUP_OK "slt"

    TEST_RR     sltu, 0, 0x00000000, 0x00000000
    TEST_RR     sltu, 1, 0x00000003, 0x00000007
    TEST_RR     sltu, 0, 0x00000007, 0x00000003
    TEST_RR     sltu, 0, 0x80000000, 0x7fffffff
    TEST_RR     sltu, 1, 0x7fffffff, 0x80000000
    TEST_RR     sltu, 0, 0xffffffff, 0x00000000
    TEST_RR     sltu, 1, 0x00000000, 0xffffffff
    TEST_RR     sltu, 1, 0x80000000, 0xffffffff
    TEST_RR     sltu, 0, 0xffffffff, 0xffffffff
    TEST_RR     sltu, 1, 0x00000000, 0x00000001     /* snez idiom with x0 below */
    TEST_RR_D1  sltu, 1, 0xfffffffe, 0xffffffff
    TEST_RR_D2  sltu, 1, 0xfffffffe, 0xffffffff
    TEST_RR_D12 sltu, 0, 0x80000000
    TEST_NEXT                                      /* snez: 0 <u x */
    li      a2, 0x80000000
    sltu    a3, x0, a2
    EXPECT  1
    GROUP_OK "sltu"

    /* ---- xor / or / and ---- */
    TEST_RR     xor, 0xf00ff00f, 0xff00ff00, 0x0f0f0f0f
    TEST_RR     xor, 0xff00ff00, 0x0ff00ff0, 0xf0f0f0f0
    TEST_RR     xor, 0x0ff00ff0, 0x00ff00ff, 0x0f0f0f0f
    TEST_RR     xor, 0x00000000, 0xffffffff, 0xffffffff
    TEST_RR_D1  xor, 0xf00ff00f, 0xff00ff00, 0x0f0f0f0f
    TEST_RR_D2  xor, 0xf00ff00f, 0xff00ff00, 0x0f0f0f0f
    TEST_RR_D12 xor, 0x00000000, 0xff00ff00
    GROUP_OK "xor"

    TEST_RR     or,  0xff0fff0f, 0xff00ff00, 0x0f0f0f0f
    TEST_RR     or,  0xfff0fff0, 0x0ff00ff0, 0xf0f0f0f0
    TEST_RR     or,  0x0fff0fff, 0x00ff00ff, 0x0f0f0f0f
    TEST_RR     or,  0x80000001, 0x80000000, 0x00000001
    TEST_RR_D1  or,  0xff0fff0f, 0xff00ff00, 0x0f0f0f0f
    TEST_RR_D2  or,  0xff0fff0f, 0xff00ff00, 0x0f0f0f0f
    TEST_RR_D12 or,  0xff00ff00, 0xff00ff00
    GROUP_OK "or"

    TEST_RR     and, 0x0f000f00, 0xff00ff00, 0x0f0f0f0f
    TEST_RR     and, 0x00f000f0, 0x0ff00ff0, 0xf0f0f0f0
    TEST_RR     and, 0x000f000f, 0x00ff00ff, 0x0f0f0f0f
    TEST_RR     and, 0x00000000, 0x80000000, 0x7fffffff
    TEST_RR_D1  and, 0x0f000f00, 0xff00ff00, 0x0f0f0f0f
    TEST_RR_D2  and, 0x0f000f00, 0xff00ff00, 0x0f0f0f0f
    TEST_RR_D12 and, 0xff00ff00, 0xff00ff00
    GROUP_OK "and"

    /* ---- x0: writes are ignored, reads give 0 ---- */
    TEST_NEXT
    addi    x0, x0, 5
    mv      a3, x0
    EXPECT  0
    TEST_NEXT
    lui     x0, 0x12345
    add     a3, x0, x0
    EXPECT  0
    TEST_NEXT
    li      a1, 0x11111111
    li      a2, 0x22222222
    add     x0, a1, a2
    or      a3, x0, x0
    EXPECT  0
    TEST_NEXT                   /* a load into x0 still does not write it */
    la      a1, x0_word
    lw      x0, 0(a1)
    mv      a3, x0
    EXPECT  0
    TEST_NEXT
    jal     x0, 1f              /* jal x0: no link written */
1:  auipc   x0, 0x1
    slli    x0, a1, 3
    sltu    x0, x0, a1
    addi    a3, x0, 0
    EXPECT  0
    GROUP_OK "x0"

    /*
     * ---- every register number as rd, rs1 and rs2 ----
     * x1..x31 get (n << 20) | n (li: rd = n), then lose n (addi: rd = rs1
     * = n) and are shifted down to n (srli).  x1 (= 1) then subtracts x2..x31
     * (sub: rs2 = n) and adds them back (add: rs1 = n): it must end at 1.
     * A register decoded as another one breaks the sum.  sp, gp and tp
     * are saved and restored around the test.
     */
    TEST_NEXT
    la      t0, saved_regs
    sw      sp, 0(t0)
    sw      gp, 4(t0)
    sw      tp, 8(t0)
    .irp n, 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    li      x\n, ((\n << 20) | \n)
    .endr
    .irp n, 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    addi    x\n, x\n, -\n
    .endr
    .irp n, 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    srli    x\n, x\n, 20
    .endr
    .irp n, 2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    sub     x1, x1, x\n
    .endr
    .irp n, 2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    add     x1, x\n, x1
    .endr
    mv      a3, x1
    la      t0, saved_regs
    lw      sp, 0(t0)
    lw      gp, 4(t0)
    lw      tp, 8(t0)
    li      s11, tnum           /* s11 (x27) took part in the test */
    EXPECT  1
    GROUP_OK "registers"

    ISA_PASS

    ISA_FAIL_HANDLER

    .data
    .balign 4
x0_word:    .word 0x5a5a5a5a

    .bss
    .balign 4
saved_regs: .space 12
