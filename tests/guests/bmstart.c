/*
 * bmstart: only a change of the bus master's start bit from 0 to 1 starts
 * it (SFF-8038i; QEMU's bmdma_cmd_writeb ignores a write that keeps it).
 * Sector 2 is read through table t1 into b1 with the start bit written
 * twice; then sector 3 is issued with table t2 (into b2) and no start of
 * its own: nothing may move (before, the second write had armed the bus
 * master again, and sector 3 landed in b1 through the old table). Then the
 * bit is cleared and set: sector 3 lands in b2. Prints one line per step;
 * exits with the number of the first step that went wrong.
 */
#include "rt.h"
#include "ata.h"

#define TASK(r) (*(volatile uint8_t *)(ATA_TASK(0) + (r)))
#define BM8(r)  (*(volatile uint8_t *)(ATA_BM(0) + (r)))
#define BM32(r) (*(volatile uint32_t *)(ATA_BM(0) + (r)))

static uint8_t sectors[4 * 512] __attribute__((aligned(4)));
static uint8_t b1[512] __attribute__((aligned(4))), b2[512] __attribute__((aligned(4)));
static struct ata_prd all[1] __attribute__((aligned(8)));
static struct ata_prd t1[1] __attribute__((aligned(8))), t2[1] __attribute__((aligned(8)));
static struct ata_drive drive;

static void table(struct ata_prd *t, void *buffer, uint32_t bytes)
{
    t[0].addr = (uint32_t)buffer;
    t[0].bytes = (uint16_t)bytes;
    t[0].flags = ATA_PRD_EOT;
}

static void read_dma(uint32_t lba, struct ata_prd *t)
{
    __asm__ volatile ("fence" ::: "memory");  /* the tables and buffers are in memory before the device looks */
    BM8(ATA_BM_STATUS) = ATA_BMS_INTR | ATA_BMS_ERROR;
    BM32(ATA_BM_PRDT) = (uint32_t)t;
    TASK(ATA_REG_COUNT) = 1;
    TASK(ATA_REG_LBA_LOW) = (uint8_t)lba;
    TASK(ATA_REG_LBA_MID) = 0;
    TASK(ATA_REG_LBA_HIGH) = 0;
    TASK(ATA_REG_DEVICE) = ATA_DEV_LBA;
    TASK(ATA_REG_COMMAND) = ATA_CMD_READ_DMA;
}

/* The bus-master status once it shows the interrupt, or after `polls` reads. */
static uint8_t wait_interrupt(uint32_t polls)
{
    uint8_t bms = 0;
    for (uint32_t n = 0; n < polls; n++)
        if ((bms = BM8(ATA_BM_STATUS)) & (ATA_BMS_INTR | ATA_BMS_ERROR))
            break;
    __asm__ volatile ("fence" ::: "memory");  /* what the device wrote is read after this */
    return bms;
}

static int untouched(const uint8_t *buffer)
{
    for (uint32_t i = 0; i < 512; i++)
        if (buffer[i])
            return 0;
    return 1;
}

static int step(int number, const char *what, int ok)
{
    rt_puts(what);
    rt_puts(ok ? ": ok\n" : ": WRONG\n");
    return ok ? 0 : number;
}

int main(void)
{
    if (ata_probe(&drive, 0, 0) != ATA_OK)
        return 9;
    for (uint32_t i = 0; i < sizeof sectors; i++)
        sectors[i] = (uint8_t)(i * 13 + (i >> 9) + 1);
    table(all, sectors, sizeof sectors);
    if (ata_dma_write(&drive, 0, 4, all, 0) != ATA_OK)
        return 8;
    table(t1, b1, 512);
    table(t2, b2, 512);

    read_dma(2, t1);
    BM8(ATA_BM_COMMAND) = ATA_BMC_TO_MEM | ATA_BMC_START;
    BM8(ATA_BM_COMMAND) = ATA_BMC_TO_MEM | ATA_BMC_START;  /* keeps the bit: no second start */
    uint8_t bms = wait_interrupt(1000000u);
    (void)TASK(ATA_REG_STATUS);
    int rc = step(1, "sector 2 in b1, the engine done (bms 04)",
                  bms == ATA_BMS_INTR && memcmp(b1, sectors + 2 * 512, 512) == 0);

    memset(b1, 0, sizeof b1);
    read_dma(3, t2);  /* the start bit is still set: no change, no start */
    bms = wait_interrupt(2000u);
    if (!rc)
        rc = step(2, "sector 3 waits for a start", !(bms & ATA_BMS_INTR) && (TASK(ATA_REG_ALTSTAT) & ATA_SR_BSY));

    BM8(ATA_BM_COMMAND) = ATA_BMC_TO_MEM;
    BM8(ATA_BM_COMMAND) = ATA_BMC_TO_MEM | ATA_BMC_START;
    bms = wait_interrupt(1000000u);
    BM8(ATA_BM_COMMAND) = 0;
    (void)TASK(ATA_REG_STATUS);
    if (!rc)
        rc = step(3, "sector 3 in b2 through its own table, b1 untouched",
                  bms == ATA_BMS_INTR && memcmp(b2, sectors + 3 * 512, 512) == 0 && untouched(b1));
    return rc;
}
