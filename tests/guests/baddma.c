/*
 * baddma: DMA whose PRD regions lie outside RAM, both ways: reading into
 * 0x1000, into the top of the 32-bit space, across the end of RAM, and
 * writing from 0x1000. Each must end as a bus-master error with ABRT, and
 * the guest goes on; a good read afterwards still works. Prints one line
 * per case: "<what>: bms XX status XX error XX".
 */
#include "rt.h"
#include "ata.h"

#define TASK(r) (*(volatile uint8_t *)(ATA_TASK(0) + (r)))
#define BM8(r)  (*(volatile uint8_t *)(ATA_BM(0) + (r)))
#define BM32(r) (*(volatile uint32_t *)(ATA_BM(0) + (r)))

static struct ata_prd prd[1] __attribute__((aligned(8)));
static uint8_t buf[512] __attribute__((aligned(4)));

static void dma(uint32_t address, int write, const char *what)
{
    prd[0].addr = address;
    prd[0].bytes = 512;
    prd[0].flags = ATA_PRD_EOT;
    BM32(ATA_BM_PRDT) = (uint32_t)prd;
    BM8(ATA_BM_STATUS) = ATA_BMS_ERROR | ATA_BMS_INTR;
    TASK(ATA_REG_COUNT) = 1;
    TASK(ATA_REG_LBA_LOW) = 0;
    TASK(ATA_REG_LBA_MID) = 0;
    TASK(ATA_REG_LBA_HIGH) = 0;
    TASK(ATA_REG_DEVICE) = ATA_DEV_LBA;
    TASK(ATA_REG_COMMAND) = write ? ATA_CMD_WRITE_DMA : ATA_CMD_READ_DMA;
    BM8(ATA_BM_COMMAND) = (write ? 0 : ATA_BMC_TO_MEM) | ATA_BMC_START;
    uint8_t bms = 0;
    while (!((bms = BM8(ATA_BM_STATUS)) & ATA_BMS_INTR))
        ;
    BM8(ATA_BM_COMMAND) = 0;
    uint8_t status = TASK(ATA_REG_STATUS);
    rt_puts(what);
    rt_puts(": bms ");
    ata_put_hex8(bms);
    rt_puts(" status ");
    ata_put_hex8(status);
    rt_puts(" error ");
    ata_put_hex8(TASK(ATA_REG_ERROR));
    rt_puts("\n");
}

int main(void)
{
    struct ata_drive d;
    if (ata_probe(&d, 0, 0) != ATA_OK)
        return 1;
    dma(0x00001000u, 0, "read into 0x1000");
    dma(0xFFFFFF00u, 0, "read into 0xffffff00");
    dma(0x80000000u + (16u << 20) - 256, 0, "read across the end of RAM");
    dma(0x00001000u, 1, "write from 0x1000");
    dma((uint32_t)buf, 0, "read into RAM");
    return 0;
}
