/*
 * isa_mem: every RV32I load and store (lb, lh, lw, lbu, lhu, sb, sh, sw)
 * on aligned addresses: little-endian byte order, sign extension against
 * zero extension with the patterns 0x80/0xff/0x7f and 0x8000/0xffff/0x7fff,
 * narrow stores leaving their neighbours alone, offsets at -2048 and 2047,
 * an odd base with an odd offset, rd == rs1, x0 as store data, loads of
 * initialised .data/.rodata (the loader must have copied them), and FENCE
 * as a no-op.  One line per group; exit code = first failing test.
 *
 * s0 holds the address of buf (4 KiB + 16, zeroed bss) throughout.
 */
#include "isa.h"

/* Store the word `val` at off(s0). */
.macro PUT_WORD off, val
    li      a5, \val
    sw      a5, \off(s0)
.endm

/* a3 = op off(s0), expect exp. */
.macro TEST_LD op, exp, off
    TEST_NEXT
    \op     a3, \off(s0)
    EXPECT  \exp
.endm

    .text
    .globl main
main:
    la      s0, buf

    /* ---- sw / lw and byte order ---- */
    TEST_NEXT
    li      a1, 0x12345678
    sw      a1, 0(s0)
    lw      a3, 0(s0)
    EXPECT  0x12345678
    TEST_LD lbu, 0x78, 0
    TEST_LD lbu, 0x56, 1
    TEST_LD lbu, 0x34, 2
    TEST_LD lbu, 0x12, 3
    TEST_LD lhu, 0x5678, 0
    TEST_LD lhu, 0x1234, 2
    TEST_NEXT                   /* sw of x0 */
    sw      x0, 0(s0)
    lw      a3, 0(s0)
    EXPECT  0
    GROUP_OK "sw/lw"

    /* ---- lb / lbu: sign against zero extension ---- */
    PUT_WORD 0, 0x007fff80      /* bytes 80 ff 7f 00 */
    TEST_LD lb,  0xffffff80, 0
    TEST_LD lbu, 0x00000080, 0
    TEST_LD lb,  0xffffffff, 1
    TEST_LD lbu, 0x000000ff, 1
    TEST_LD lb,  0x0000007f, 2
    TEST_LD lbu, 0x0000007f, 2
    TEST_LD lb,  0x00000000, 3
    TEST_LD lbu, 0x00000000, 3
    GROUP_OK "lb/lbu"

    /* ---- lh / lhu ---- */
    PUT_WORD 0, 0xffff8000
    PUT_WORD 4, 0x80007fff
    TEST_LD lh,  0xffff8000, 0
    TEST_LD lhu, 0x00008000, 0
    TEST_LD lh,  0xffffffff, 2
    TEST_LD lhu, 0x0000ffff, 2
    TEST_LD lh,  0x00007fff, 4
    TEST_LD lhu, 0x00007fff, 4
    TEST_LD lh,  0xffff8000, 6
    TEST_LD lhu, 0x00008000, 6
    PUT_WORD 8, 0x00ff0080
    TEST_LD lh,  0x00000080, 8  /* 0x0080: bit 7 set is not the sign */
    TEST_LD lh,  0x000000ff, 10
    GROUP_OK "lh/lhu"

    /* ---- sb / sh write only their bytes ---- */
    PUT_WORD 0, 0xaaaaaaaa
    TEST_NEXT
    li      a1, 0x12345655      /* only the low byte is stored */
    sb      a1, 1(s0)
    lw      a3, 0(s0)
    EXPECT  0xaaaa55aa
    TEST_NEXT
    li      a1, 0xffffff01
    sb      a1, 3(s0)
    lw      a3, 0(s0)
    EXPECT  0x01aa55aa
    TEST_NEXT
    sb      x0, 0(s0)
    lw      a3, 0(s0)
    EXPECT  0x01aa5500
    TEST_NEXT
    li      a1, 0xdeadbeef      /* only the low half is stored */
    sh      a1, 2(s0)
    lw      a3, 0(s0)
    EXPECT  0xbeef5500
    TEST_NEXT
    li      a1, 0x00018001
    sh      a1, 0(s0)
    lw      a3, 0(s0)
    EXPECT  0xbeef8001
    TEST_NEXT                   /* the next word is untouched */
    PUT_WORD 4, 0x11223344
    li      a1, 0xffffffff
    sh      a1, 2(s0)
    sb      a1, 0(s0)
    lw      a3, 4(s0)
    EXPECT  0x11223344
    TEST_LD lw,  0xffff80ff, 0
    TEST_NEXT                   /* store then load of the same byte */
    li      a1, 0x80
    sb      a1, 5(s0)
    lb      a3, 5(s0)
    EXPECT  0xffffff80
    TEST_LD lw,  0x11228044, 4
    GROUP_OK "sb/sh"

    /* ---- 12-bit offsets at their limits, negative offsets ---- */
    addi    s1, s0, 2047
    addi    s1, s1, 1           /* s1 = buf + 2048 */
    TEST_NEXT                   /* sw -2048: writes buf[0] */
    li      a1, 0x0badf00d
    sw      a1, -2048(s1)
    lw      a3, 0(s0)
    EXPECT  0x0badf00d
    TEST_NEXT                   /* lw 2044 from buf + 2048: buf + 4092 */
    li      a1, 0xcafe1234
    sw      a1, 2044(s1)
    li      a2, 4092
    add     a2, s0, a2
    lw      a3, 0(a2)
    EXPECT  0xcafe1234
    TEST_NEXT                   /* sb 2047 from buf + 2048: buf + 4095 */
    li      a1, 0x9c
    sb      a1, 2047(s1)
    lbu     a3, 3(a2)
    EXPECT  0x9c
    TEST_NEXT                   /* and lb -2048 / lh -2048 */
    lb      a3, -2048(s1)
    EXPECT  0x0d
    TEST_NEXT
    lh      a3, -2046(s1)
    EXPECT  0x0bad
    TEST_NEXT                   /* lw 2047 from the odd base buf + 1 */
    li      a1, 0x76543210
    sw      a1, 0(s1)
    addi    a2, s0, 1
    lw      a3, 2047(a2)
    EXPECT  0x76543210
    TEST_NEXT                   /* lbu 2047 / lhu -1 from an odd base */
    lbu     a3, 2047(a2)
    EXPECT  0x10
    TEST_NEXT
    addi    a2, s1, 3
    lhu     a3, -1(a2)
    EXPECT  0x7654
    TEST_NEXT                   /* sh / sw with small negative offsets */
    addi    a2, s0, 16
    li      a1, 0xa5a5
    sh      a1, -6(a2)          /* buf + 10 */
    li      a1, 0x5a5a5a5a
    sw      a1, -4(a2)          /* buf + 12 */
    lw      a3, 8(s0)
    EXPECT  0xa5a50080
    TEST_LD lw, 0x5a5a5a5a, 12
    GROUP_OK "offsets"

    /* ---- register aliasing ---- */
    TEST_NEXT                   /* lw with rd == rs1 */
    PUT_WORD 16, 0x13579bdf
    addi    a3, s0, 16
    lw      a3, 0(a3)
    EXPECT  0x13579bdf
    TEST_NEXT                   /* lb with rd == rs1 */
    addi    a3, s0, 19
    lb      a3, 0(a3)
    EXPECT  0x13
    TEST_NEXT                   /* sw with rs2 == rs1 stores the address */
    addi    a1, s0, 20
    sw      a1, 0(a1)
    lw      a3, 20(s0)
    mv      a4, a1
    EXPECT_A4
    TEST_NEXT                   /* load into x0 leaves x0 at 0 */
    lw      x0, 16(s0)
    mv      a3, x0
    EXPECT  0
    GROUP_OK "aliasing"

    /* ---- initialised data from the image ---- */
    la      s1, init_data
    TEST_NEXT
    lw      a3, 0(s1)
    EXPECT  0xcafebabe
    TEST_NEXT
    lh      a3, 4(s1)
    EXPECT  0xffff8765
    TEST_NEXT
    lb      a3, 6(s1)
    EXPECT  0xffffff81
    TEST_NEXT
    lbu     a3, 7(s1)
    EXPECT  0x7f
    TEST_NEXT
    la      a1, ro_data
    lw      a3, 0(a1)
    EXPECT  0x01020304
    TEST_NEXT                   /* write to .data, read back */
    li      a1, 0x600df00d
    sw      a1, 0(s1)
    lw      a3, 0(s1)
    EXPECT  0x600df00d
    GROUP_OK "data"

    /* ---- fence: ordering only, no visible effect here ---- */
    TEST_NEXT
    li      a1, 0x31415926
    sw      a1, 24(s0)
    fence
    fence   rw, rw
    fence   w, r
    fence   iorw, iorw
    lw      a3, 24(s0)
    EXPECT  0x31415926
    GROUP_OK "fence"

    ISA_PASS

    ISA_FAIL_HANDLER

    .data
    .balign 4
init_data:
    .word   0xcafebabe
    .half   0x8765
    .byte   0x81, 0x7f

    .section .rodata
    .balign 4
ro_data:
    .word   0x01020304

    .bss
    .balign 16
buf:
    .space  4096 + 16
