/*
 * isa_muldiv: the M extension (mul, mulh, mulhsu, mulhu, div, divu, rem,
 * remu): products of signed extremes, the high halves under each
 * signedness, rounding toward zero, division by zero (div -> -1,
 * divu -> 0xffffffff, rem/remu -> the dividend) and the signed overflow
 * 0x80000000 / -1 (quotient 0x80000000, remainder 0), none of which trap;
 * plus rd == rs1 / rs2 aliasing.
 * One line per group; exit code = number of the first failing test.
 */
#include "isa.h"

    .text
    .globl main
main:
    /* ---- mul: low 32 bits, the same for any signedness ---- */
    TEST_RR     mul, 0x00000000, 0x00000000, 0x00000000
    TEST_RR     mul, 0x00000001, 0x00000001, 0x00000001
    TEST_RR     mul, 0x00000015, 0x00000003, 0x00000007
    TEST_RR     mul, 0xffffffeb, 0xfffffffd, 0x00000007   /* -3 * 7 */
    TEST_RR     mul, 0x00000015, 0xfffffffd, 0xfffffff9   /* -3 * -7 */
    TEST_RR     mul, 0x00000000, 0x00000000, 0x80000000
    TEST_RR     mul, 0x80000000, 0x80000000, 0xffffffff
    TEST_RR     mul, 0x00000000, 0x80000000, 0x80000000
    TEST_RR     mul, 0x00000001, 0x7fffffff, 0x7fffffff
    TEST_RR     mul, 0x00000001, 0xffffffff, 0xffffffff
    TEST_RR     mul, 0x80000000, 0x7fffffff, 0x80000000
    TEST_RR     mul, 0x00001200, 0x00007e00, 0xb6db6db7
    TEST_RR     mul, 0x242d2080, 0x12345678, 0x9abcdef0
    TEST_RR_D1  mul, 0x0000008f, 0x0000000d, 0x0000000b
    TEST_RR_D2  mul, 0x0000009a, 0x0000000e, 0x0000000b
    TEST_RR_D12 mul, 0x000000a9, 0x0000000d
    GROUP_OK "mul"

    /* ---- mulh: high half, signed x signed ---- */
    TEST_RR     mulh, 0x00000000, 0x00000000, 0x00000000
    TEST_RR     mulh, 0x00000000, 0x00000001, 0x00000001
    TEST_RR     mulh, 0xffffffff, 0xfffffffd, 0x00000007   /* -21 */
    TEST_RR     mulh, 0x00000000, 0xfffffffd, 0xfffffff9   /* +21 */
    TEST_RR     mulh, 0x40000000, 0x80000000, 0x80000000   /* 2^62 */
    TEST_RR     mulh, 0xc0000000, 0x80000000, 0x7fffffff   /* -2^62 + 2^31 */
    TEST_RR     mulh, 0x3fffffff, 0x7fffffff, 0x7fffffff
    TEST_RR     mulh, 0x00000000, 0x80000000, 0xffffffff   /* +2^31 */
    TEST_RR     mulh, 0x00000000, 0xffffffff, 0xffffffff   /* +1 */
    TEST_RR     mulh, 0xffffffff, 0xffffffff, 0x00000001   /* -1 */
    TEST_RR     mulh, 0xffff0081, 0xaaaaaaab, 0x0002fe7d
    TEST_RR     mulh, 0xffff0081, 0x0002fe7d, 0xaaaaaaab
    TEST_RR     mulh, 0xf8cc93d6, 0x12345678, 0x9abcdef0
    TEST_RR_D1  mulh, 0x00000000, 0x0000000d, 0x0000000b
    TEST_RR_D2  mulh, 0xffffffff, 0xfffffff2, 0x0000000b
    TEST_RR_D12 mulh, 0x40000000, 0x80000000
    GROUP_OK "mulh"

    /* ---- mulhsu: high half, signed rs1 x unsigned rs2 ---- */
    TEST_RR     mulhsu, 0x00000000, 0x00000000, 0x00000000
    TEST_RR     mulhsu, 0x00000000, 0x00000001, 0x00000001
    TEST_RR     mulhsu, 0xffffffff, 0xfffffffd, 0x00000007
    TEST_RR     mulhsu, 0xfffffffd, 0xfffffffd, 0xfffffff9 /* -3 * (2^32 - 7) */
    TEST_RR     mulhsu, 0xc0000000, 0x80000000, 0x80000000
    TEST_RR     mulhsu, 0x80000000, 0x80000000, 0xffffffff
    TEST_RR     mulhsu, 0x7ffffffe, 0x7fffffff, 0xffffffff
    TEST_RR     mulhsu, 0xffffffff, 0xffffffff, 0xffffffff
    TEST_RR     mulhsu, 0x3fffffff, 0x7fffffff, 0x7fffffff
    TEST_RR     mulhsu, 0x00000000, 0x00000001, 0xffffffff
    TEST_RR     mulhsu, 0xffffffff, 0xffffffff, 0x00000001
    TEST_RR     mulhsu, 0xffff0081, 0xaaaaaaab, 0x0002fe7d
    TEST_RR     mulhsu, 0x0001fefe, 0x0002fe7d, 0xaaaaaaab
    TEST_RR_D1  mulhsu, 0xffffffff, 0xfffffff3, 0x0000000b
    TEST_RR_D2  mulhsu, 0x0000000a, 0x0000000b, 0xfffffff3
    TEST_RR_D12 mulhsu, 0xc0000000, 0x80000000
    GROUP_OK "mulhsu"

    /* ---- mulhu: high half, unsigned x unsigned ---- */
    TEST_RR     mulhu, 0x00000000, 0x00000000, 0x00000000
    TEST_RR     mulhu, 0x00000000, 0x00000001, 0x00000001
    TEST_RR     mulhu, 0x00000006, 0xfffffffd, 0x00000007
    TEST_RR     mulhu, 0xfffffff6, 0xfffffffd, 0xfffffff9
    TEST_RR     mulhu, 0x40000000, 0x80000000, 0x80000000
    TEST_RR     mulhu, 0x7fffffff, 0x80000000, 0xffffffff
    TEST_RR     mulhu, 0xfffffffe, 0xffffffff, 0xffffffff
    TEST_RR     mulhu, 0x3fffffff, 0x7fffffff, 0x7fffffff
    TEST_RR     mulhu, 0x0001fefe, 0xaaaaaaab, 0x0002fe7d
    TEST_RR     mulhu, 0x0b00ea4e, 0x12345678, 0x9abcdef0
    TEST_RR_D1  mulhu, 0x0000000a, 0xfffffff3, 0x0000000b
    TEST_RR_D2  mulhu, 0x0000000a, 0x0000000b, 0xfffffff3
    TEST_RR_D12 mulhu, 0xfffffffe, 0xffffffff
    GROUP_OK "mulhu"

    /* ---- div: signed, rounds toward zero ---- */
    TEST_RR     div, 0x00000003, 20, 6
    TEST_RR     div, 0xfffffffd, -20, 6
    TEST_RR     div, 0xfffffffd, 20, -6
    TEST_RR     div, 0x00000003, -20, -6
    TEST_RR     div, 0x00000000, 5, 6
    TEST_RR     div, 0x00000000, -5, 6
    TEST_RR     div, 0xc0000000, 0x80000000, 2
    TEST_RR     div, 0x80000000, 0x80000000, 1
    TEST_RR     div, 0x80000001, 0x7fffffff, -1
    TEST_RR     div, 0x80000000, 0x80000000, 0xffffffff   /* overflow */
    TEST_RR     div, 0xffffffff, 0x00000014, 0            /* by zero */
    TEST_RR     div, 0xffffffff, 0x80000000, 0
    TEST_RR     div, 0xffffffff, 0x00000000, 0
    TEST_RR     div, 0xffffffff, 0xffffffec, 0
    TEST_RR_D1  div, 0x00000003, 20, 6
    TEST_RR_D2  div, 0xfffffffd, -20, 6
    TEST_RR_D12 div, 0x00000001, -20
    GROUP_OK "div"

    /* ---- divu ---- */
    TEST_RR     divu, 0x00000003, 20, 6
    TEST_RR     divu, 0x2aaaaaa7, -20, 6
    TEST_RR     divu, 0x00000000, 20, -6
    TEST_RR     divu, 0x00000000, -20, -6
    TEST_RR     divu, 0x00000001, -6, -6
    TEST_RR     divu, 0x40000000, 0x80000000, 2
    TEST_RR     divu, 0x00000000, 0x80000000, 0xffffffff
    TEST_RR     divu, 0x00000001, 0xffffffff, 0xffffffff
    TEST_RR     divu, 0xffffffff, 0xffffffff, 1
    TEST_RR     divu, 0xffffffff, 0x00000014, 0           /* by zero */
    TEST_RR     divu, 0xffffffff, 0x80000000, 0
    TEST_RR     divu, 0xffffffff, 0x00000000, 0
    TEST_RR_D1  divu, 0x2aaaaaa7, -20, 6
    TEST_RR_D2  divu, 0x00000000, 20, -6
    TEST_RR_D12 divu, 0x00000001, 0x80000000
    GROUP_OK "divu"

    /* ---- rem: sign of the dividend ---- */
    TEST_RR     rem, 0x00000002, 20, 6
    TEST_RR     rem, 0xfffffffe, -20, 6
    TEST_RR     rem, 0x00000002, 20, -6
    TEST_RR     rem, 0xfffffffe, -20, -6
    TEST_RR     rem, 0x00000005, 5, 6
    TEST_RR     rem, 0xfffffffb, -5, 6
    TEST_RR     rem, 0x00000000, 0x80000000, 1
    TEST_RR     rem, 0x00000000, 0x80000000, 2
    TEST_RR     rem, 0xffffffff, 0x80000000, 0x7fffffff
    TEST_RR     rem, 0x00000000, 0x80000000, 0xffffffff   /* overflow */
    TEST_RR     rem, 0x00000000, 0x7fffffff, 0xffffffff
    TEST_RR     rem, 0x00000014, 0x00000014, 0            /* by zero */
    TEST_RR     rem, 0x80000000, 0x80000000, 0
    TEST_RR     rem, 0xffffffec, 0xffffffec, 0
    TEST_RR     rem, 0x00000000, 0x00000000, 0
    TEST_RR_D1  rem, 0x00000002, 20, 6
    TEST_RR_D2  rem, 0xfffffffe, -20, 6
    TEST_RR_D12 rem, 0x00000000, -20
    GROUP_OK "rem"

    /* ---- remu ---- */
    TEST_RR     remu, 0x00000002, 20, 6
    TEST_RR     remu, 0x00000002, -20, 6
    TEST_RR     remu, 0x00000014, 20, -6
    TEST_RR     remu, 0xffffffec, -20, -6
    TEST_RR     remu, 0x00000000, 0x80000000, 2
    TEST_RR     remu, 0x80000000, 0x80000000, 0xffffffff
    TEST_RR     remu, 0x00000000, 0xffffffff, 0xffffffff
    TEST_RR     remu, 0x00000001, 0x80000000, 0x7fffffff
    TEST_RR     remu, 0x00000014, 0x00000014, 0           /* by zero */
    TEST_RR     remu, 0xffffffff, 0xffffffff, 0
    TEST_RR     remu, 0x00000000, 0x00000000, 0
    TEST_RR_D1  remu, 0x00000002, -20, 6
    TEST_RR_D2  remu, 0x00000014, 20, -6
    TEST_RR_D12 remu, 0x00000000, 0x80000000
    GROUP_OK "remu"

    ISA_PASS

    ISA_FAIL_HANDLER
