/* PIO without waiting for DRQ (tests/test_disks.py): IDENTIFY's data read
 * and one sector written by WRITE SECTORS straight after their commands.
 * The device offers the block as it takes the command (as QEMU's does), so
 * every word must arrive exactly once, whichever side of the cpu's window
 * serves it. */
#include "rt.h"
#include "ata.h"

#define T(r) (*(volatile uint8_t *)(ATA_TASK(0) + (r)))
#define D16 (*(volatile uint16_t *)(ATA_TASK(0)))
#define D32 (*(volatile uint32_t *)(ATA_TASK(0)))

static uint16_t id[256];

static uint8_t settle(void)
{
    uint8_t s;
    for (uint32_t n = 0; n < 1000000u; n++)
        if (!((s = T(ATA_REG_ALTSTAT)) & (ATA_SR_BSY | ATA_SR_DRQ)))
            break;
    return s;
}

int main(void)
{
    uint8_t sum = 0;

    T(ATA_REG_DEVICE) = 0;
    T(ATA_REG_COMMAND) = ATA_CMD_IDENTIFY;
    for (int i = 0; i < 256; i++)
        id[i] = D16;
    for (int i = 0; i < 256; i++)
        sum += (uint8_t)((id[i] & 0xff) + (id[i] >> 8));
    rt_puts("identify word 0 ");
    rt_put_hex(id[0]);
    rt_puts(" checksum ");
    rt_put_hex(sum);
    rt_puts(" status ");
    rt_put_hex(settle());
    rt_putc('\n');

    T(ATA_REG_DEVICE) = ATA_DEV_LBA;
    T(ATA_REG_COUNT) = 1;
    T(ATA_REG_LBA_LOW) = 3;
    T(ATA_REG_LBA_MID) = 0;
    T(ATA_REG_LBA_HIGH) = 0;
    T(ATA_REG_COMMAND) = ATA_CMD_WRITE_SECTORS;
    for (uint32_t i = 0; i < 128; i++)
        D32 = 0xa0000000u + i;
    rt_puts("write status ");
    rt_put_hex(settle());
    rt_putc('\n');
    return 0;
}
