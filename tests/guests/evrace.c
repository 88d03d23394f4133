/*
 * evrace: the ide's news of a command it refused at once reaches the cpu
 * at a moment the host sets. Each round posts a command the drive refuses
 * (0x00, NOP, on channel 1: an interrupt and registers the ide holds for
 * the next checkpoint, and tells the cpu of), then arms channel 0's bus
 * master twice, a varying number of instructions apart (no command: each
 * start only brings a poll within 256 instructions), and reads channel 1's
 * status and error. No interrupt is enabled and no disk is read or written:
 * nothing the guest does depends on timing, so every replay must match
 * (the ide's EventsPending, digested, once made the cpu's digest depend on
 * whether it came before or after the checkpoint it led to).
 */
#include "rt.h"
#include "ata.h"

#define TASK(ch, r) (*(volatile uint8_t *)(ATA_TASK(ch) + (r)))
#define BM8(r) (*(volatile uint8_t *)(ATA_BM(0) + (r)))

static struct ata_prd table[1] __attribute__((aligned(16)));
static uint8_t buffer[512] __attribute__((aligned(16)));

int main(void)
{
    uint32_t x = 1, h = 2166136261u;

    table[0].addr = (uint32_t)(uintptr_t)buffer;
    table[0].bytes = sizeof buffer;
    table[0].flags = ATA_PRD_EOT;
    __asm__ volatile ("fence" ::: "memory");  /* the table is in memory before the device looks */
    *(volatile uint32_t *)(ATA_BM(0) + ATA_BM_PRDT) = (uint32_t)(uintptr_t)table;
    for (uint32_t round = 0; round < 100; round++) {
        TASK(1, ATA_REG_DEVICE) = ATA_DEV_LBA;
        TASK(1, ATA_REG_COMMAND) = 0x00;  /* refused at once */
        BM8(ATA_BM_COMMAND) = 0;
        BM8(ATA_BM_COMMAND) = ATA_BMC_START | ATA_BMC_TO_MEM;
        for (uint32_t i = 0; i < (round * 131u) % 2000u; i++)
            x = x * 33 + i;
        BM8(ATA_BM_COMMAND) = 0;
        BM8(ATA_BM_COMMAND) = ATA_BMC_START | ATA_BMC_TO_MEM;
        for (uint32_t i = 0; i < 200; i++)
            x = x * 33 + i;
        h = (h ^ TASK(1, ATA_REG_STATUS)) * 16777619u;  /* reading it acknowledges the refusal */
        h = (h ^ TASK(1, ATA_REG_ERROR)) * 16777619u;
    }
    BM8(ATA_BM_COMMAND) = 0;
    rt_puts("evrace ");
    rt_put_hex(x ^ h);
    rt_putc('\n');
    return 0;
}
