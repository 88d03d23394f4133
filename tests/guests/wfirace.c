/*
 * wfirace: a one-sector DMA read in flight and the timer armed for about
 * the disk's latency, then wfi, 200 times. Whether the completion or the
 * timer wakes the hart is the host's timing, which the recording keeps;
 * mtime, the timer ticks taken and whether the read was done are hashed
 * and printed, so a replay that lets time jump where its recording did
 * not (or the other way round) prints another hash. (A completion that
 * came just after the patience of a checkpoint ran out was once
 * checkpointed after the hart's time jump, and replayed before it.)
 */
#include "rt.h"
#include "ata.h"

#define TASK(r) (*(volatile uint8_t *)(ATA_TASK(0) + (r)))
#define BM8(r) (*(volatile uint8_t *)(ATA_BM(0) + (r)))
#define PLIC_PRIORITY1 (*(volatile uint32_t *)0x0C000004u)
#define PLIC_ENABLE    (*(volatile uint32_t *)0x0C002000u)
#define PLIC_THRESHOLD (*(volatile uint32_t *)0x0C200000u)
#define PLIC_CLAIM     (*(volatile uint32_t *)0x0C200004u)
#define MCAUSE_M_EXTERNAL 0x8000000bu

static volatile uint32_t busy, ticks, hash = 2166136261u;
static struct ata_prd table[1] __attribute__((aligned(16)));
static uint8_t buffer[512] __attribute__((aligned(16)));

static void mix(uint32_t v)
{
    hash = (hash ^ v) * 16777619u;
}

static void on_trap(struct trap_frame *f)
{
    if (f->mcause == MCAUSE_M_EXTERNAL) {
        uint32_t source = PLIC_CLAIM;
        if (source == 1) {
            mix(TASK(ATA_REG_STATUS));  /* acknowledges the interrupt */
            BM8(ATA_BM_STATUS) = ATA_BMS_INTR | ATA_BMS_ERROR;
            BM8(ATA_BM_COMMAND) = 0;
            busy = 0;
        }
        if (source)
            PLIC_CLAIM = source;
    } else if (f->mcause == MCAUSE_M_TIMER) {
        ticks++;
        rt_set_mtimecmp(~0ull);
    } else {
        rt_exit(99);
    }
}

static void start_read(uint32_t lba)
{
    table[0].addr = (uint32_t)(uintptr_t)buffer;
    table[0].bytes = sizeof buffer;
    table[0].flags = ATA_PRD_EOT;
    __asm__ volatile ("fence" ::: "memory");  /* the table is in memory before the device looks */
    BM8(ATA_BM_COMMAND) = 0;
    BM8(ATA_BM_STATUS) = ATA_BMS_INTR | ATA_BMS_ERROR;
    TASK(ATA_REG_DEVICE) = ATA_DEV_LBA;
    TASK(ATA_REG_COUNT) = 1;
    TASK(ATA_REG_LBA_LOW) = (uint8_t)lba;
    TASK(ATA_REG_LBA_MID) = 0;
    TASK(ATA_REG_LBA_HIGH) = 0;
    TASK(ATA_REG_COMMAND) = ATA_CMD_READ_DMA;
    *(volatile uint32_t *)(ATA_BM(0) + ATA_BM_PRDT) = (uint32_t)(uintptr_t)table;
    BM8(ATA_BM_COMMAND) = ATA_BMC_START | ATA_BMC_TO_MEM;
}

int main(void)
{
    rt_set_trap_handler(on_trap);
    PLIC_PRIORITY1 = 1;
    PLIC_THRESHOLD = 0;
    PLIC_ENABLE = 1u << 1;
    (void)TASK(ATA_REG_STATUS);
    csr_set(mie, MIE_MTIE | MIE_MEIE);
    for (uint32_t round = 0; round < 200; round++) {
        csr_clear(mstatus, MSTATUS_MIE);
        busy = 1;
        start_read(round % 64);
        rt_set_mtimecmp(rt_mtime() + 2000 + (round * 997) % 18000);
        csr_set(mstatus, MSTATUS_MIE);
        __asm__ volatile ("wfi");
        mix((uint32_t)rt_mtime());
        mix(ticks);
        mix(busy);
        while (busy) {
            rt_set_mtimecmp(rt_mtime() + 10000000);
            __asm__ volatile ("wfi");
        }
        rt_set_mtimecmp(~0ull);
        mix((uint32_t)rt_mtime());
    }
    rt_puts("wfirace ticks ");
    rt_put_udec(ticks);
    rt_puts(" hash ");
    rt_put_hex(hash);
    rt_putc('\n');
    return 0;
}
