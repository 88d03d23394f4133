/* A disk read raced against a watchdog timer (tests/test_replay.py): the
 * guest arms a 1 s timeout (10,000,000 ticks of QEMU's 10 MHz timebase),
 * starts an interrupt-driven READ DMA and waits in wfi for whichever comes
 * first. A disk that answers within the wall time the ticks stand for wins;
 * one slower than that loses to the timer. Exit 0: the disk came first;
 * 1: the watchdog fired. */
#include "rt.h"
#include "ata.h"
#define T(r) (*(volatile uint8_t *)(ATA_TASK(0) + (r)))
#define BM8(r) (*(volatile uint8_t *)(ATA_BM(0) + (r)))
#define BM32(r) (*(volatile uint32_t *)(ATA_BM(0) + (r)))
#define PLIC_ENABLE (*(volatile uint32_t *)0x0C002000)
#define PLIC_PRIO(n) (*(volatile uint32_t *)(0x0C000000 + 4*(n)))
#define PLIC_CLAIM (*(volatile uint32_t *)0x0C200004)
static struct ata_prd prd[1] __attribute__((aligned(16)));
static uint8_t buf[512] __attribute__((aligned(16)));
static volatile int first = 0;   /* 1 = disk, 2 = timer */
static void h(struct trap_frame *f) {
    if (f->mcause == 0x8000000bu) {
        uint32_t c = PLIC_CLAIM; (void)T(ATA_REG_STATUS); BM8(ATA_BM_STATUS) = ATA_BMS_INTR | ATA_BMS_DMA0; PLIC_CLAIM = c;
        if (!first) first = 1;
    } else if (f->mcause == MCAUSE_M_TIMER) {
        rt_set_mtimecmp(~0ull);
        if (!first) first = 2;
    } else rt_exit(99);
}
int main(void) {
    rt_set_trap_handler(h);
    PLIC_PRIO(1) = 1; PLIC_ENABLE = 2;
    prd[0].addr = (uint32_t)buf; prd[0].bytes = 512; prd[0].flags = ATA_PRD_EOT;
    uint64_t start = rt_mtime();
    rt_set_mtimecmp(start + 10000000);           /* watchdog: 1 s at QEMU's 10 MHz timebase */
    csr_set(mie, MIE_MTIE | MIE_MEIE);
    T(ATA_REG_DEVICE) = ATA_DEV_LBA; T(ATA_REG_COUNT) = 1; T(ATA_REG_LBA_LOW) = 0; T(ATA_REG_LBA_MID) = 0; T(ATA_REG_LBA_HIGH) = 0;
    T(ATA_REG_COMMAND) = ATA_CMD_READ_DMA;
    BM32(ATA_BM_PRDT) = (uint32_t)prd;
    BM8(ATA_BM_COMMAND) = ATA_BMC_START | ATA_BMC_TO_MEM;
    csr_set(mstatus, MSTATUS_MIE);
    while (!first) __asm__ volatile("wfi");
    rt_puts(first == 1 ? "disk completed first\n" : "watchdog fired first: disk timed out\n");
    rt_puts("elapsed mtime "); rt_put_udec((uint32_t)(rt_mtime() - start)); rt_putc('\n');
    return first == 1 ? 0 : 1;
}
