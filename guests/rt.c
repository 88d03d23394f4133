/* rt.c - console, exit, timer and trap support for reel guests (see rt.h). */
#include "rt.h"

void rt_putc(char c)
{
    volatile uint8_t *uart = (volatile uint8_t *)RT_UART_BASE;

    while (!(uart[5] & RT_UART_LSR_THRE))
        ;
    uart[0] = (uint8_t)c;
}

void rt_puts(const char *s)
{
    while (*s)
        rt_putc(*s++);
}

void rt_put_udec(uint32_t v)
{
    char buf[10];
    int n = 0;

    do {
        buf[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        rt_putc(buf[--n]);
}

void rt_put_dec(int32_t v)
{
    if (v < 0) {
        rt_putc('-');
        rt_put_udec(-(uint32_t)v);   /* also right for INT32_MIN */
    } else {
        rt_put_udec((uint32_t)v);
    }
}

void rt_put_hex(uint32_t v)
{
    for (int shift = 28; shift >= 0; shift -= 4)
        rt_putc("0123456789abcdef"[(v >> shift) & 0xf]);
}

void rt_exit(int code)
{
    uint32_t v = code == 0 ? 0x5555u : ((uint32_t)(code & 0xffff) << 16) | 0x3333u;

    mmio_write32(RT_EXIT_DEV, v);
    for (;;)                         /* the exit device does not return */
        __asm__ volatile ("wfi");
}

uint64_t rt_mtime(void)
{
    uint32_t hi, lo;

    /* Re-read if the low word carried into the high word in between. */
    do {
        hi = mmio_read32(RT_CLINT_MTIME + 4);
        lo = mmio_read32(RT_CLINT_MTIME);
    } while (mmio_read32(RT_CLINT_MTIME + 4) != hi);
    return ((uint64_t)hi << 32) | lo;
}

void rt_set_mtimecmp(uint64_t when)
{
    /* Park the low word at its maximum first so that no intermediate
     * value of the 64-bit comparator is earlier than both old and new. */
    mmio_write32(RT_CLINT_MTIMECMP, 0xffffffffu);
    mmio_write32(RT_CLINT_MTIMECMP + 4, (uint32_t)(when >> 32));
    mmio_write32(RT_CLINT_MTIMECMP, (uint32_t)when);
}

static rt_trap_fn registered_handler;

void rt_set_trap_handler(rt_trap_fn fn)
{
    registered_handler = fn;
}

__attribute__((weak)) void trap_handler(struct trap_frame *f)
{
    if (registered_handler) {
        registered_handler(f);
        return;
    }
    rt_puts("unexpected trap: mcause=0x");
    rt_put_hex(f->mcause);
    rt_puts(" mepc=0x");
    rt_put_hex(f->mepc);
    rt_puts(" mtval=0x");
    rt_put_hex(f->mtval);
    rt_putc('\n');
    rt_exit(RT_EXIT_UNEXPECTED_TRAP);
}

/*
 * The compiler may emit calls to these even in freestanding code.  The
 * byte loops must not be turned back into memset/memcpy calls, hence the
 * optimize attribute.
 */
#define NO_LIBCALL __attribute__((optimize("no-tree-loop-distribute-patterns")))

NO_LIBCALL void *memset(void *d, int c, size_t n)
{
    uint8_t *p = d;

    while (n--)
        *p++ = (uint8_t)c;
    return d;
}

NO_LIBCALL void *memcpy(void *d, const void *s, size_t n)
{
    uint8_t *p = d;
    const uint8_t *q = s;

    while (n--)
        *p++ = *q++;
    return d;
}

NO_LIBCALL void *memmove(void *d, const void *s, size_t n)
{
    uint8_t *p = d;
    const uint8_t *q = s;

    if (p < q) {
        while (n--)
            *p++ = *q++;
    } else {
        while (n--)
            p[n] = q[n];
    }
    return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const uint8_t *p = a, *q = b;

    for (; n; n--, p++, q++)
        if (*p != *q)
            return *p - *q;
    return 0;
}
