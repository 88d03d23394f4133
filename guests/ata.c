/* ata.c - the ATA driver of reel's disk guests (see ata.h). */
#include "ata.h"
#include "rt.h"

/* ---- the PLIC (hart 0, M-mode context), as on QEMU's virt ---- */
#define PLIC_BASE        0x0C000000u
#define PLIC_PRIORITY(s) (PLIC_BASE + 4u * (s))
#define PLIC_ENABLE      (PLIC_BASE + 0x2000u)
#define PLIC_THRESHOLD   (PLIC_BASE + 0x200000u)
#define PLIC_CLAIM       (PLIC_BASE + 0x200004u)   /* read: claim, write: complete */
#define MCAUSE_M_EXTERNAL 0x8000000Bu

#define IDE_IRQ_BITS ((1u << ATA_IRQ(0)) | (1u << ATA_IRQ(1)))

/* ---- register access ---- */

static inline uint8_t rd8(int ch, uint32_t reg)
{
    return *(volatile uint8_t *)(ATA_TASK(ch) + reg);
}

static inline void wr8(int ch, uint32_t reg, uint8_t v)
{
    *(volatile uint8_t *)(ATA_TASK(ch) + reg) = v;
}

static inline uint8_t bm_rd8(int ch, uint32_t reg)
{
    return *(volatile uint8_t *)(ATA_BM(ch) + reg);
}

static inline void bm_wr8(int ch, uint32_t reg, uint8_t v)
{
    *(volatile uint8_t *)(ATA_BM(ch) + reg) = v;
}

/* Orders our memory accesses around DMA: buffers and the PRD table are
 * written before the engine starts, and read only after it stopped (also
 * keeps the compiler from caching buffer contents across the wait). */
static inline void dma_barrier(void)
{
    __asm__ volatile ("fence" ::: "memory");
}

/* ---- waiting ---- */

/* Polls the alternate status (no acknowledge) until BSY is clear. */
static int wait_not_busy(int ch, uint8_t *status)
{
    for (uint32_t n = 0; n < ATA_POLL_LIMIT; n++) {
        uint8_t st = rd8(ch, ATA_REG_ALTSTAT);
        if (!(st & ATA_SR_BSY)) {
            *status = st;
            return ATA_OK;
        }
    }
    return ATA_E_TIMEOUT;
}

/* Remembers the final status (and the error register if ERR is set). */
static void record(struct ata_drive *d, uint8_t st)
{
    d->status = st;
    d->error = (st & ATA_SR_ERR) ? rd8(d->channel, ATA_REG_ERROR) : 0;
}

/* Before each PIO data block: BSY clear, then the status register (which
 * acknowledges the interrupt of the previous block) must show DRQ. */
static int wait_drq(struct ata_drive *d)
{
    uint8_t st;
    int rc = wait_not_busy(d->channel, &st);

    if (rc)
        return rc;
    st = rd8(d->channel, ATA_REG_STATUS);
    if (st & (ATA_SR_ERR | ATA_SR_DF)) {
        record(d, st);
        return ATA_E_DEVICE;
    }
    if (!(st & ATA_SR_DRQ)) {
        record(d, st);
        return ATA_E_PROTOCOL;
    }
    return ATA_OK;
}

/* End of a PIO or non-data command: BSY clear, read the status
 * (acknowledges the last interrupt); no ERR/DF, and DRQ clear. */
static int finish(struct ata_drive *d)
{
    uint8_t st;
    int rc = wait_not_busy(d->channel, &st);

    if (rc)
        return rc;
    st = rd8(d->channel, ATA_REG_STATUS);
    record(d, st);
    if (st & (ATA_SR_ERR | ATA_SR_DF))
        return ATA_E_DEVICE;
    if (st & ATA_SR_DRQ)
        return ATA_E_PROTOCOL;
    return ATA_OK;
}

/* ---- issuing commands ---- */

/* Selects the drive and waits until it is not busy. */
static int select_drive(struct ata_drive *d)
{
    uint8_t st;

    wr8(d->channel, ATA_REG_DEVICE, ATA_DEV_LBA | (d->slave ? ATA_DEV_SLAVE : 0));
    return wait_not_busy(d->channel, &st);
}

/*
 * Writes the task file and the command.  LBA28 (ext = 0): features, count,
 * LBA 7..0 / 15..8 / 23..16, device with LBA 27..24.  LBA48 (ext = 1):
 * each of features, count and the three LBA registers twice, high-order
 * byte first (count 15..8, LBA 31..24 / 39..32 / 47..40), then the
 * low-order bytes.  `count` is what goes into the register (0 = the most).
 */
static int issue(struct ata_drive *d, uint8_t cmd, uint8_t features, uint32_t count,
                 uint64_t lba, int ext)
{
    int ch = d->channel, rc;
    uint8_t dev = ATA_DEV_LBA | (d->slave ? ATA_DEV_SLAVE : 0);

    d->status = d->error = 0;
    rc = select_drive(d);
    if (rc)
        return rc;
    if (ext) {
        wr8(ch, ATA_REG_FEATURES, 0);
        wr8(ch, ATA_REG_COUNT, (uint8_t)(count >> 8));
        wr8(ch, ATA_REG_LBA_LOW, (uint8_t)(lba >> 24));
        wr8(ch, ATA_REG_LBA_MID, (uint8_t)(lba >> 32));
        wr8(ch, ATA_REG_LBA_HIGH, (uint8_t)(lba >> 40));
    } else {
        dev |= (uint8_t)((lba >> 24) & 0x0f);
    }
    wr8(ch, ATA_REG_FEATURES, features);
    wr8(ch, ATA_REG_COUNT, (uint8_t)count);
    wr8(ch, ATA_REG_LBA_LOW, (uint8_t)lba);
    wr8(ch, ATA_REG_LBA_MID, (uint8_t)(lba >> 8));
    wr8(ch, ATA_REG_LBA_HIGH, (uint8_t)(lba >> 16));
    wr8(ch, ATA_REG_DEVICE, dev);
    wr8(ch, ATA_REG_COMMAND, cmd);
    return ATA_OK;
}

/* A read/write command: checks count and LBA range of the command set. */
static int issue_rw(struct ata_drive *d, uint8_t cmd, uint64_t lba, uint32_t count, int ext)
{
    if (ext) {
        if (count < 1 || count > 65536 || lba + count > (1ull << 48))
            return ATA_E_PARAM;
    } else {
        if (count < 1 || count > 256 || lba + count > (1ull << 28))
            return ATA_E_PARAM;
    }
    return issue(d, cmd, 0, count, lba, ext);   /* 256 / 65536 go out as 0 */
}

/* ---- probe and reset ---- */

int ata_probe(struct ata_drive *d, int channel, int slave)
{
    volatile uint16_t *data = (volatile uint16_t *)(ATA_TASK(channel) + ATA_REG_DATA);
    uint8_t st, sum = 0;
    int rc;

    memset(d, 0, sizeof *d);
    d->channel = (uint8_t)channel;
    d->slave = (uint8_t)slave;

    /* An absent drive reads status 0x00 (0xff: nothing on the bus). */
    wr8(channel, ATA_REG_DEVICE, ATA_DEV_LBA | (slave ? ATA_DEV_SLAVE : 0));
    st = rd8(channel, ATA_REG_ALTSTAT);
    d->status = st;
    if (st == 0x00 || st == 0xff)
        return ATA_E_NODEV;

    rc = issue(d, ATA_CMD_IDENTIFY, 0, 0, 0, 0);
    if (!rc)
        rc = wait_drq(d);
    if (rc)
        return rc;
    for (int i = 0; i < 256; i++)           /* 16-bit reads here */
        d->id[i] = *data;
    rc = finish(d);
    if (rc)
        return rc;

    /* Word 255: signature 0xA5 in the low byte, and a checksum byte that
     * makes the sum of all 512 bytes 0 mod 256. */
    for (int i = 0; i < 256; i++)
        sum = (uint8_t)(sum + (d->id[i] & 0xff) + (d->id[i] >> 8));
    if ((d->id[255] & 0xff) != 0xa5 || sum != 0)
        return ATA_E_IDENTIFY;

    d->sectors28 = d->id[60] | ((uint32_t)d->id[61] << 16);
    d->lba48 = (d->id[83] & (1u << 10)) && (d->id[86] & (1u << 10));
    if (d->lba48)
        d->sectors48 = d->id[100] | ((uint64_t)d->id[101] << 16) |
                       ((uint64_t)d->id[102] << 32) | ((uint64_t)d->id[103] << 48);
    d->sectors = d->lba48 ? d->sectors48 : d->sectors28;

    /* Model: words 27..46, each word's first character in its high byte. */
    for (int i = 0; i < 20; i++) {
        d->model[2 * i] = (char)(d->id[27 + i] >> 8);
        d->model[2 * i + 1] = (char)(d->id[27 + i] & 0xff);
    }
    d->model[40] = 0;
    for (int i = 39; i >= 0 && (d->model[i] == ' ' || d->model[i] == 0); i--)
        d->model[i] = 0;
    return ATA_OK;
}

int ata_reset(int channel)
{
    uint8_t st;
    int rc;

    wr8(channel, ATA_REG_CONTROL, ATA_CTL_SRST);   /* both drives into reset */
    wr8(channel, ATA_REG_CONTROL, 0);              /* and out again, nIEN clear */
    rc = wait_not_busy(channel, &st);              /* the master is selected now */
    if (rc)
        return rc;
    if (st == 0x00)
        return ATA_E_NODEV;
    return (st & ATA_SR_DRDY) ? ATA_OK : ATA_E_PROTOCOL;
}

/* ---- PIO ---- */

int ata_pio_read(struct ata_drive *d, uint64_t lba, uint32_t count, void *buf, int ext)
{
    volatile uint32_t *data = (volatile uint32_t *)(ATA_TASK(d->channel) + ATA_REG_DATA);
    uint32_t *p = buf;
    int rc = issue_rw(d, ext ? ATA_CMD_READ_SECTORS_EXT : ATA_CMD_READ_SECTORS, lba, count, ext);

    if (rc)
        return rc;
    for (uint32_t s = 0; s < count; s++) {
        rc = wait_drq(d);                   /* DRQ for each sector */
        if (rc)
            return rc;
        for (int i = 0; i < 128; i++)       /* 128 dwords = 256 words */
            *p++ = *data;
    }
    return finish(d);
}

int ata_pio_write(struct ata_drive *d, uint64_t lba, uint32_t count, const void *buf, int ext)
{
    volatile uint32_t *data = (volatile uint32_t *)(ATA_TASK(d->channel) + ATA_REG_DATA);
    const uint32_t *p = buf;
    int rc = issue_rw(d, ext ? ATA_CMD_WRITE_SECTORS_EXT : ATA_CMD_WRITE_SECTORS, lba, count, ext);

    if (rc)
        return rc;
    for (uint32_t s = 0; s < count; s++) {
        rc = wait_drq(d);    /* first: no interrupt yet; then acks the previous sector's */
        if (rc)
            return rc;
        for (int i = 0; i < 128; i++)
            *data = *p++;
    }
    return finish(d);        /* acks the last sector's interrupt; DRQ must be clear */
}

/* ---- non-data commands ---- */

int ata_nodata(struct ata_drive *d, uint8_t cmd, uint8_t features, uint8_t count)
{
    int rc = issue(d, cmd, features, count, 0, 0);

    return rc ? rc : finish(d);
}

int ata_flush(struct ata_drive *d, int ext)
{
    return ata_nodata(d, ext ? ATA_CMD_FLUSH_CACHE_EXT : ATA_CMD_FLUSH_CACHE, 0, 0);
}

int ata_set_features(struct ata_drive *d, uint8_t features, uint8_t count)
{
    return ata_nodata(d, ATA_CMD_SET_FEATURES, features, count);
}

/* ---- DMA ---- */

int ata_prd_build(struct ata_prd *table, int max, const void *buf, uint32_t bytes)
{
    uint32_t addr = (uint32_t)(uintptr_t)buf;
    int n = 0;

    if (bytes == 0 || (bytes & 1) || (addr & 1))
        return 0;
    while (bytes) {
        uint32_t room = 0x10000u - (addr & 0xffffu);   /* up to the next 64 KiB line */
        uint32_t len = bytes < room ? bytes : room;

        if (n == max)
            return 0;
        table[n].addr = addr;
        table[n].bytes = (uint16_t)len;                 /* 65536 -> 0 */
        table[n].flags = 0;
        addr += len;
        bytes -= len;
        n++;
    }
    table[n - 1].flags = ATA_PRD_EOT;
    return n;
}

uint32_t ata_prd_total(const struct ata_prd *table)
{
    uint32_t total = 0;

    for (int i = 0; i < 256; i++) {
        total += table[i].bytes ? table[i].bytes : 0x10000u;
        if (table[i].flags & ATA_PRD_EOT)
            return total;
    }
    return 0;
}

/*
 * The start of every DMA request: PRD table address, clear the bus-master
 * interrupt and error bits (keeping the two "DMA capable" bits), the
 * direction, the ATA command, and then the start bit.
 */
static int dma_issue(struct ata_drive *d, uint64_t lba, uint32_t count,
                     const struct ata_prd *table, int ext, int write)
{
    int ch = d->channel, rc;
    uint8_t dir = write ? 0 : ATA_BMC_TO_MEM;
    uint8_t cmd = write ? (ext ? ATA_CMD_WRITE_DMA_EXT : ATA_CMD_WRITE_DMA)
                        : (ext ? ATA_CMD_READ_DMA_EXT : ATA_CMD_READ_DMA);

    if (count > 65536 || ata_prd_total(table) != count * ATA_SECTOR)
        return ATA_E_PARAM;
    dma_barrier();
    *(volatile uint32_t *)(ATA_BM(ch) + ATA_BM_PRDT) = (uint32_t)(uintptr_t)table;
    bm_wr8(ch, ATA_BM_STATUS, (bm_rd8(ch, ATA_BM_STATUS) & (ATA_BMS_DMA0 | ATA_BMS_DMA1)) |
                              ATA_BMS_ERROR | ATA_BMS_INTR);
    bm_wr8(ch, ATA_BM_COMMAND, dir);
    rc = issue_rw(d, cmd, lba, count, ext);
    if (rc)
        return rc;
    bm_wr8(ch, ATA_BM_COMMAND, dir | ATA_BMC_START);
    return ATA_OK;
}

/*
 * Has the request ended?  Normally the bus-master interrupt bit says so.
 * A device that ends a DMA command with an error (status ERR with BSY and
 * DRQ clear) has ended it too, even if it never raised the bus-master
 * interrupt bit (for example because it failed before the engine started).
 */
static int dma_ended(int ch, uint8_t *bms)
{
    *bms = bm_rd8(ch, ATA_BM_STATUS);
    if (*bms & ATA_BMS_INTR)
        return 1;
    return (rd8(ch, ATA_REG_ALTSTAT) & (ATA_SR_BSY | ATA_SR_DRQ | ATA_SR_ERR)) == ATA_SR_ERR;
}

/* The end of every DMA request: stop the engine, then check the device's
 * status (reading it acknowledges the interrupt) and the bus master's. */
static int dma_finish(struct ata_drive *d, uint8_t bms)
{
    int ch = d->channel;
    uint8_t st;

    bm_wr8(ch, ATA_BM_COMMAND, 0);
    dma_barrier();
    st = rd8(ch, ATA_REG_STATUS);
    record(d, st);
    if (st & (ATA_SR_ERR | ATA_SR_DF))
        return ATA_E_DEVICE;
    if (bms & ATA_BMS_ERROR)
        return ATA_E_DMA;
    /* Success means: the device is done, and the engine went idle by
     * itself (it moved exactly the bytes of the PRD table). */
    if (st & (ATA_SR_BSY | ATA_SR_DRQ) || bms & ATA_BMS_ACTIVE)
        return ATA_E_PROTOCOL;
    return ATA_OK;
}

static int dma_polled(struct ata_drive *d, uint64_t lba, uint32_t count,
                      const struct ata_prd *table, int ext, int write)
{
    uint8_t bms;
    int rc = dma_issue(d, lba, count, table, ext, write);

    if (rc)
        return rc;
    for (uint32_t n = 0; !dma_ended(d->channel, &bms); n++) {
        if (n == ATA_POLL_LIMIT) {
            bm_wr8(d->channel, ATA_BM_COMMAND, 0);
            return ATA_E_TIMEOUT;
        }
    }
    return dma_finish(d, bms);
}

int ata_dma_read(struct ata_drive *d, uint64_t lba, uint32_t count,
                 const struct ata_prd *table, int ext)
{
    return dma_polled(d, lba, count, table, ext, 0);
}

int ata_dma_write(struct ata_drive *d, uint64_t lba, uint32_t count,
                  const struct ata_prd *table, int ext)
{
    return dma_polled(d, lba, count, table, ext, 1);
}

/* ---- interrupt-driven DMA ---- */

static struct ata_drive *volatile in_flight[2];   /* per channel: the request's drive */
static volatile int last_result[2];
static ata_done_fn done_fn;
static int irq_on;

static void ata_trap(struct trap_frame *f)
{
    uint32_t src;

    if (f->mcause != MCAUSE_M_EXTERNAL) {
        rt_puts("unexpected trap: mcause=0x");
        rt_put_hex(f->mcause);
        rt_puts(" mepc=0x");
        rt_put_hex(f->mepc);
        rt_putc('\n');
        rt_exit(RT_EXIT_UNEXPECTED_TRAP);
    }
    src = mmio_read32(PLIC_CLAIM);
    if (src == ATA_IRQ(0) || src == ATA_IRQ(1)) {
        int ch = (int)(src - ATA_IRQ(0));
        struct ata_drive *d = in_flight[ch];
        uint8_t bms;

        if (!d) {
            /* No DMA request here: a PIO command's (or a polled one's)
             * interrupt.  Reading the status acknowledges it; the code
             * that runs the command reads the status itself as well. */
            (void)rd8(ch, ATA_REG_STATUS);
        } else if (dma_ended(ch, &bms)) {
            int rc = dma_finish(d, bms);

            in_flight[ch] = 0;
            last_result[ch] = rc;
            if (done_fn)
                done_fn(ch, rc);
        }
        /* else: a stale PLIC pending bit from before this request */
    }
    if (src)
        mmio_write32(PLIC_CLAIM, src);      /* complete */
}

void ata_irq_enable(ata_done_fn done)
{
    uint32_t src;

    csr_clear(mstatus, MSTATUS_MIE);
    done_fn = done;
    rt_set_trap_handler(ata_trap);
    mmio_write32(PLIC_PRIORITY(ATA_IRQ(0)), 1);
    mmio_write32(PLIC_PRIORITY(ATA_IRQ(1)), 1);
    mmio_write32(PLIC_THRESHOLD, 0);
    /* Acknowledge what the devices may still have pending, then drain
     * PLIC pending bits left from commands run without interrupts. */
    (void)rd8(0, ATA_REG_STATUS);
    (void)rd8(1, ATA_REG_STATUS);
    mmio_write32(PLIC_ENABLE, mmio_read32(PLIC_ENABLE) | IDE_IRQ_BITS);
    for (int i = 0; i < 64 && (src = mmio_read32(PLIC_CLAIM)) != 0; i++)
        mmio_write32(PLIC_CLAIM, src);
    irq_on = 1;
    csr_set(mie, MIE_MEIE);
    csr_set(mstatus, MSTATUS_MIE);
}

void ata_irq_disable(void)
{
    csr_clear(mstatus, MSTATUS_MIE);
    csr_clear(mie, MIE_MEIE);
    mmio_write32(PLIC_ENABLE, mmio_read32(PLIC_ENABLE) & ~IDE_IRQ_BITS);
    rt_set_trap_handler(0);
    done_fn = 0;
    irq_on = 0;
}

int ata_dma_start(struct ata_drive *d, uint64_t lba, uint32_t count,
                  const struct ata_prd *table, int ext, int write)
{
    uint32_t mie = csr_read(mstatus) & MSTATUS_MIE;
    int ch = d->channel, rc;

    if (!irq_on)
        return ATA_E_PARAM;
    /* No interrupt between marking the request in flight and its start. */
    csr_clear(mstatus, MSTATUS_MIE);
    if (in_flight[ch]) {
        rc = ATA_E_BUSY;
    } else {
        in_flight[ch] = d;
        rc = dma_issue(d, lba, count, table, ext, write);
        if (rc)
            in_flight[ch] = 0;
    }
    if (mie)
        csr_set(mstatus, MSTATUS_MIE);
    return rc;
}

void ata_abandon(int channel)
{
    uint32_t mie = csr_read(mstatus) & MSTATUS_MIE;

    csr_clear(mstatus, MSTATUS_MIE);
    bm_wr8(channel, ATA_BM_COMMAND, 0);     /* stop the bus master */
    (void)ata_reset(channel);               /* the device drops the command */
    bm_wr8(channel, ATA_BM_STATUS, ATA_BMS_ERROR | ATA_BMS_INTR);  /* 1 clears */
    in_flight[channel] = 0;
    if (mie)
        csr_set(mstatus, MSTATUS_MIE);
}

int ata_busy(int channel)
{
    return in_flight[channel] != 0;
}

int ata_wait(int channel)
{
    /*
     * Test with interrupts off, then wfi: an interrupt arriving after the
     * test still wakes wfi (it wakes on mip & mie whatever mstatus.MIE),
     * and is taken as soon as MIE is set again.
     */
    uint32_t mie = csr_read(mstatus) & MSTATUS_MIE;

    for (;;) {
        csr_clear(mstatus, MSTATUS_MIE);
        if (!in_flight[channel])
            break;
        __asm__ volatile ("wfi");
        csr_set(mstatus, MSTATUS_MIE);
    }
    if (mie)
        csr_set(mstatus, MSTATUS_MIE);
    return last_result[channel];
}

/* ---- reporting ---- */

const char *ata_strerror(int result)
{
    static const char *const names[] = {
        "ok", "device error", "bus-master error", "protocol error", "timeout",
        "no drive", "bad IDENTIFY data", "bad parameter", "channel busy",
    };

    if (result < 0 || result >= (int)(sizeof names / sizeof names[0]))
        return "unknown result";
    return names[result];
}

void ata_put_hex8(uint8_t v)
{
    rt_putc("0123456789abcdef"[v >> 4]);
    rt_putc("0123456789abcdef"[v & 15]);
}

void ata_print_result(const struct ata_drive *d, int result)
{
    rt_puts(ata_strerror(result));
    rt_puts(" (status ");
    ata_put_hex8(d->status);
    rt_puts(" error ");
    ata_put_hex8(d->error);
    rt_putc(')');
}
