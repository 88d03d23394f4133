/*
 * isa_misaligned (reel only: QEMU may trap instead): misaligned lw, lh,
 * lhu, sw and sh, inside a word, across a word boundary and across a
 * 4 KiB page boundary, must be carried out without a trap and give the
 * little-endian values.  An unexpected trap ends the guest through the
 * runtime's default handler (exit code 255).
 * One line per group; exit code = number of the first failing test.
 */
#include "isa.h"

/* a3 = op off(s0), expect exp. */
.macro TEST_LD op, exp, off
    TEST_NEXT
    \op     a3, \off(s0)
    EXPECT  \exp
.endm

    .text
    .globl main
main:
    /* bytes:  11 f2 33 84 55 e6 77 98 | a9 3a cb 5c ed 7e 0f 90 */
    la      s0, pattern

    /* ---- misaligned loads ---- */
    TEST_LD lw,  0x558433f2, 1
    TEST_LD lw,  0xe6558433, 2
    TEST_LD lw,  0x77e65584, 3
    TEST_LD lw,  0xa99877e6, 5
    TEST_LD lw,  0x5ccb3aa9, 8      /* aligned, for reference */
    TEST_LD lw,  0x7eed5ccb, 10
    TEST_LD lh,  0x000033f2, 1      /* inside a word */
    TEST_LD lh,  0x00005584, 3      /* across a word boundary */
    TEST_LD lh,  0x000077e6, 5
    TEST_LD lh,  0xffffa998, 7      /* across, sign-extended */
    TEST_LD lhu, 0x0000a998, 7
    TEST_LD lh,  0xffffed5c, 11
    TEST_LD lhu, 0x0000ed5c, 11
    TEST_LD lh,  0xffffcb3a, 9
    GROUP_OK "misaligned loads"

    /* ---- misaligned stores (s1 = 16 zeroed bytes) ---- */
    la      s1, scratch
    TEST_NEXT                   /* sw at +1 */
    li      a1, 0x11223344
    sw      a1, 1(s1)
    lw      a3, 0(s1)
    EXPECT  0x22334400
    TEST_NEXT
    lw      a3, 4(s1)
    EXPECT  0x00000011
    TEST_NEXT                   /* read back misaligned */
    lw      a3, 1(s1)
    EXPECT  0x11223344
    TEST_NEXT                   /* sw at +6 */
    li      a1, 0xa1b2c3d4
    sw      a1, 6(s1)
    lw      a3, 4(s1)
    EXPECT  0xc3d40011
    TEST_NEXT
    lw      a3, 8(s1)
    EXPECT  0x0000a1b2
    TEST_NEXT                   /* sh across a word boundary at +11 */
    li      a1, 0xffffabcd
    sh      a1, 11(s1)
    lw      a3, 8(s1)
    EXPECT  0xcd00a1b2
    TEST_NEXT
    lw      a3, 12(s1)
    EXPECT  0x000000ab
    TEST_NEXT                   /* sh inside a word at +13 */
    li      a1, 0x00005678
    sh      a1, 13(s1)
    lw      a3, 12(s1)
    EXPECT  0x005678ab
    TEST_NEXT
    lh      a3, 11(s1)
    EXPECT  0xffffabcd
    GROUP_OK "misaligned stores"

    /* ---- across a 4 KiB page boundary ---- */
    la      s2, page_buf
    li      a1, 4096
    add     s2, s2, a1          /* s2 = start of the second page */
    TEST_NEXT
    li      a1, 0x89abcdef
    sw      a1, -2(s2)
    lw      a3, -2(s2)
    EXPECT  0x89abcdef
    TEST_NEXT                   /* the aligned words on both sides */
    lw      a3, -4(s2)
    EXPECT  0xcdef0000
    TEST_NEXT
    lw      a3, 0(s2)
    EXPECT  0x000089ab
    TEST_NEXT
    lh      a3, -1(s2)
    EXPECT  0xffffabcd
    TEST_NEXT                   /* sh across the boundary */
    li      a1, 0x1357
    sh      a1, -1(s2)
    lw      a3, -4(s2)
    EXPECT  0x57ef0000
    TEST_NEXT
    lw      a3, 0(s2)
    EXPECT  0x00008913
    GROUP_OK "page crossing"

    ISA_PASS

    ISA_FAIL_HANDLER

    .data
    .balign 16
pattern:
    .byte   0x11, 0xf2, 0x33, 0x84, 0x55, 0xe6, 0x77, 0x98
    .byte   0xa9, 0x3a, 0xcb, 0x5c, 0xed, 0x7e, 0x0f, 0x90

    .bss
    .balign 16
scratch:
    .space  16
    .balign 4096
page_buf:
    .space  8192
