/*
 * irqrace: an interrupt that a command raises at once, with no disk
 * request, taken while the guest runs code that touches no device. The
 * guest issues IDENTIFY (a posted write), then counts until its interrupt
 * handler sets a flag, and prints the count: where the interrupt was
 * taken, as the guest sees it. A replay must print the same.
 */
#include "rt.h"
#include "ata.h"

#define PLIC_PRIORITY(s) (0x0C000000u + 4u * (s))
#define PLIC_ENABLE      0x0C002000u
#define PLIC_THRESHOLD   0x0C200000u
#define PLIC_CLAIM       0x0C200004u
#define TASK(r) (*(volatile uint8_t *)(ATA_TASK(0) + (r)))

static volatile uint32_t flag;

static void on_trap(struct trap_frame *f)
{
    (void)f;
    uint32_t src = mmio_read32(PLIC_CLAIM);
    (void)TASK(ATA_REG_STATUS);  /* acknowledge */
    flag = 1;
    mmio_write32(PLIC_CLAIM, src);
}

int main(void)
{
    struct ata_drive d;
    if (ata_probe(&d, 0, 0) != ATA_OK)
        return 1;
    rt_set_trap_handler(on_trap);
    mmio_write32(PLIC_PRIORITY(ATA_IRQ(0)), 1);
    mmio_write32(PLIC_THRESHOLD, 0);
    mmio_write32(PLIC_ENABLE, 1u << ATA_IRQ(0));
    (void)TASK(ATA_REG_STATUS);
    csr_set(mie, MIE_MEIE);
    csr_set(mstatus, MSTATUS_MIE);
    for (int round = 0; round < 3; round++) {
        flag = 0;
        TASK(ATA_REG_DEVICE) = ATA_DEV_LBA;
        TASK(ATA_REG_COMMAND) = ATA_CMD_IDENTIFY;
        uint32_t count = 0;
        while (!flag)
            count++;
        for (int i = 0; i < 256; i++)  /* the IDENTIFY block */
            (void)*(volatile uint16_t *)(ATA_TASK(0) + ATA_REG_DATA);
        rt_puts("interrupt after ");
        rt_put_udec(count);
        rt_puts(" turns\n");
    }
    return 0;
}
