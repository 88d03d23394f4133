/*
 * uart: what a driver reads back from the 16550 at 0x10000000, after reset
 * and after the writes an 8250 driver makes (divisor latch, line and modem
 * control, scratch, FIFO control, interrupt enable), printed register by
 * register for comparison with QEMU's virt machine; the transmit interrupt
 * as IIR and the PLIC (source 10) show it, and taken; loopback.
 */
#include "rt.h"

#define U(r)  (*(volatile uint8_t *)(RT_UART_BASE + (r)))
#define PLIC         0x0C000000u
#define PLIC_PENDING 0x0C001000u
#define UART_IRQ     10u

static volatile uint32_t irqs, claimed, iir_seen;

static void on_trap(struct trap_frame *f)
{
    if (f->mcause != 0x8000000Bu)
        rt_exit(200);
    claimed = mmio_read32(PLIC + 0x200004);
    iir_seen = U(2);                          /* the reason; reading it clears the transmit interrupt */
    mmio_write32(PLIC + 0x200004, claimed);
    irqs++;
}

static void show(const char *what)
{
    rt_puts(what);
    static const char *names[] = {"rbr", "ier", "iir", "lcr", "mcr", "lsr", "msr", "scr"};
    for (int r = 0; r < 8; r++) {
        rt_puts(" ");
        rt_puts(names[r]);
        rt_puts("=");
        rt_put_hex(U(r));
    }
    rt_puts("\n");
}

int main(void)
{
    show("reset");
    U(3) = 0x83;            /* DLAB */
    U(0) = 0x03; U(1) = 0x00;
    rt_puts("dll=");
    rt_put_hex(U(0));
    rt_puts(" dlm=");
    rt_put_hex(U(1));
    rt_puts("\n");
    U(3) = 0x03;            /* 8N1 */
    U(4) = 0x0B;            /* DTR RTS OUT2 */
    U(7) = 0x5A;
    show("configured");
    U(2) = 0x07;            /* FIFOs on, both cleared */
    show("fifo");
    /* The transmit interrupt, read without printing in between (each
     * printed byte makes the transmitter empty again): raised on enabling,
     * seen in IIR and at the PLIC; reading IIR clears it, and the PLIC's
     * pending bit falls with the line; a write to THR raises it again. */
    U(1) = 0x02;
    uint32_t pending_on = mmio_read32(PLIC_PENDING);
    uint8_t iir_on = U(2), iir_after = U(2);
    uint32_t pending_after = mmio_read32(PLIC_PENDING);
    U(7) = 0xA5;
    U(0) = '*';
    uint8_t iir_again = U(2);
    U(1) = 0x00;
    rt_puts("\nthri pending=");
    rt_put_hex(pending_on);
    rt_puts(" iir=");
    rt_put_hex(iir_on);
    rt_puts(" then iir=");
    rt_put_hex(iir_after);
    rt_puts(" pending=");
    rt_put_hex(pending_after);
    rt_puts(" after thr iir=");
    rt_put_hex(iir_again);
    rt_puts("\n");
    U(1) = 0x00;
    U(2) = 0x00;
    U(4) = 0x10;            /* loopback: what is sent comes back, nothing leaves */
    uint8_t msr_loop = U(6);
    U(4) = 0x1F;
    uint8_t msr_all = U(6);
    U(0) = 'x';
    uint8_t lsr_rx = U(5), rbr = U(0), lsr_empty = U(5);
    U(4) = 0x0B;
    rt_puts("loop msr=");
    rt_put_hex(msr_loop);
    rt_puts(" all msr=");
    rt_put_hex(msr_all);
    rt_puts(" lsr=");
    rt_put_hex(lsr_rx);
    rt_puts(" rbr=");
    rt_put_hex(rbr);
    rt_puts(" lsr=");
    rt_put_hex(lsr_empty);
    rt_puts("\n");
    show("end");

    /* The transmit interrupt taken: enabling it interrupts at once. */
    mmio_write32(PLIC + 4 * UART_IRQ, 1);
    mmio_write32(PLIC + 0x2000, 1u << UART_IRQ);
    (void)mmio_read32(PLIC + 0x200004);       /* a claim left pending by the tests above: */
    mmio_write32(PLIC + 0x200004, UART_IRQ);  /* taken and completed, its line low by now */
    rt_set_trap_handler(on_trap);
    csr_set(mie, MIE_MEIE);
    csr_set(mstatus, MSTATUS_MIE);
    U(1) = 0x02;
    /* reel takes it right after the write; QEMU, not instruction-exact
     * here, at the end of its translation block: give it a few. */
    for (int spin = 0; spin < 1000 && !irqs; spin++)
        __asm__ volatile ("");
    uint32_t taken = irqs;
    U(1) = 0x00;
    csr_clear(mstatus, MSTATUS_MIE);
    rt_puts("irq taken=");
    rt_put_hex(taken);
    rt_puts(" source=");
    rt_put_hex(claimed);
    rt_puts(" iir=");
    rt_put_hex(iir_seen);
    rt_puts("\n");
    return 0;
}
