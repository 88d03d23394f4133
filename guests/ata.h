/*
 * ata.h - a small ATA (IDE) driver for reel guests.
 *
 * The controller is reel's IDE window at 0x10001000: two channels, each
 * with a task file of byte registers one byte apart (like PC I/O ports)
 * and an SFF-8038i bus-master DMA engine.  Channel 0 interrupts on PLIC
 * source 1, channel 1 on source 2.  (The layout: shared/ARCHITECTURE.md,
 * "The IDE window"; actors/ide/registers.py.)
 *
 * What the driver does:
 *   - probe a drive (select, status, IDENTIFY DEVICE with its checksum,
 *     capacity, LBA48 support, model string);
 *   - software reset of a channel (SRST);
 *   - PIO reads and writes of N sectors (READ/WRITE SECTORS [EXT]);
 *   - DMA reads and writes of N sectors through a PRD table (READ/WRITE
 *     DMA [EXT]), waiting by polling the bus-master status, or
 *     interrupt-driven (ata_irq_enable, ata_dma_start, then ata_wait or a
 *     completion callback);
 *   - non-data commands (FLUSH CACHE [EXT], SET FEATURES, any other).
 *
 * Every call that talks to a drive returns ATA_OK (0) or an ATA_E_* code;
 * after a command the drive's final status and error registers are in
 * d->status and d->error, so a caller can check which error bit was set.
 * The driver never checks an LBA against the disk's capacity: asking for
 * sectors past the end is the device's business (ERR + IDNF).
 *
 * Which command set is used is the caller's choice: `ext` = 0 sends the
 * LBA28 command (READ SECTORS 0x20 ...), `ext` = 1 the LBA48 one (READ
 * SECTORS EXT 0x24 ...).  Sector counts run 1..256 (LBA28) or 1..65536
 * (LBA48); the largest count is sent as 0, as ATA defines.
 *
 * Sector data moves through the data register as 32-bit accesses (two
 * 16-bit words, low word first); IDENTIFY data as 16-bit accesses, so that
 * both widths are used.
 *
 * Waiting never measures time: a polling loop gives up after
 * ATA_POLL_LIMIT register reads and returns ATA_E_TIMEOUT.
 */
#ifndef REEL_ATA_H
#define REEL_ATA_H

#include <stdint.h>

/* ---- the window ---- */
#define ATA_BASE        0x10001000u
#define ATA_TASK(ch)    (ATA_BASE + 0x100u * (uint32_t)(ch))      /* task file */
#define ATA_BM(ch)      (ATA_BASE + 0x200u + 8u * (uint32_t)(ch)) /* bus master */
#define ATA_IRQ(ch)     (1u + (uint32_t)(ch))                     /* PLIC source */

/* Task-file registers, offsets from ATA_TASK(ch). */
#define ATA_REG_DATA     0x0
#define ATA_REG_ERROR    0x1    /* read */
#define ATA_REG_FEATURES 0x1    /* write */
#define ATA_REG_COUNT    0x2
#define ATA_REG_LBA_LOW  0x3
#define ATA_REG_LBA_MID  0x4
#define ATA_REG_LBA_HIGH 0x5
#define ATA_REG_DEVICE   0x6
#define ATA_REG_STATUS   0x7    /* read: acknowledges the interrupt */
#define ATA_REG_COMMAND  0x7    /* write */
#define ATA_REG_ALTSTAT  0xE    /* read: does not acknowledge */
#define ATA_REG_CONTROL  0xE    /* write */

/* Bus-master registers, offsets from ATA_BM(ch). */
#define ATA_BM_COMMAND   0x0
#define ATA_BM_STATUS    0x2
#define ATA_BM_PRDT      0x4

/* Status register. */
#define ATA_SR_BSY  0x80
#define ATA_SR_DRDY 0x40
#define ATA_SR_DF   0x20
#define ATA_SR_DRQ  0x08
#define ATA_SR_ERR  0x01

/* Error register. */
#define ATA_ER_UNC  0x40
#define ATA_ER_IDNF 0x10
#define ATA_ER_ABRT 0x04

/* Device register, device control. */
#define ATA_DEV_LBA    0x40
#define ATA_DEV_SLAVE  0x10
#define ATA_CTL_NIEN   0x02
#define ATA_CTL_SRST   0x04
#define ATA_CTL_HOB    0x80

/* Bus-master command and status. */
#define ATA_BMC_START   0x01
#define ATA_BMC_TO_MEM  0x08    /* device to memory: READ DMA */
#define ATA_BMS_ACTIVE  0x01
#define ATA_BMS_ERROR   0x02
#define ATA_BMS_INTR    0x04
#define ATA_BMS_DMA0    0x20    /* drive 0 DMA capable */
#define ATA_BMS_DMA1    0x40    /* drive 1 DMA capable */

/* Commands. */
#define ATA_CMD_READ_SECTORS      0x20
#define ATA_CMD_READ_SECTORS_EXT  0x24
#define ATA_CMD_READ_DMA_EXT      0x25
#define ATA_CMD_WRITE_SECTORS     0x30
#define ATA_CMD_WRITE_SECTORS_EXT 0x34
#define ATA_CMD_WRITE_DMA_EXT     0x35
#define ATA_CMD_DIAGNOSTIC        0x90
#define ATA_CMD_READ_DMA          0xC8
#define ATA_CMD_WRITE_DMA         0xCA
#define ATA_CMD_FLUSH_CACHE       0xE7
#define ATA_CMD_FLUSH_CACHE_EXT   0xEA
#define ATA_CMD_IDENTIFY          0xEC
#define ATA_CMD_SET_FEATURES      0xEF

#define ATA_FEAT_XFER_MODE        0x03   /* SET FEATURES: count = mode */

#define ATA_SECTOR      512u
#define ATA_POLL_LIMIT  2000000u

/* ---- results ---- */
enum {
    ATA_OK = 0,
    ATA_E_DEVICE,    /* the device ended the command with ERR or DF (see d->status, d->error) */
    ATA_E_DMA,       /* the bus-master status had its error bit set */
    ATA_E_PROTOCOL,  /* the device broke the protocol (e.g. no DRQ where data was due, BSY/DRQ left set) */
    ATA_E_TIMEOUT,   /* a polling loop ran ATA_POLL_LIMIT times */
    ATA_E_NODEV,     /* no drive answers (status 0x00 or 0xff) */
    ATA_E_IDENTIFY,  /* IDENTIFY data without signature 0xA5 or with a bad checksum */
    ATA_E_PARAM,     /* bad argument: count, LBA range of the command set, PRD table size */
    ATA_E_BUSY       /* ata_dma_start on a channel that has a request in flight */
};

/* ---- a drive ---- */
struct ata_drive {
    uint8_t channel;         /* 0 or 1 */
    uint8_t slave;           /* 0 master, 1 slave */
    uint8_t lba48;           /* IDENTIFY: words 83 and 86 bit 10 */
    uint8_t status;          /* status register at the end of the last command */
    uint8_t error;           /* error register then (0 unless status had ERR) */
    uint32_t sectors28;      /* IDENTIFY words 60-61 */
    uint64_t sectors48;      /* IDENTIFY words 100-103 (0 without LBA48) */
    uint64_t sectors;        /* the capacity: sectors48 with LBA48, else sectors28 */
    char model[41];          /* words 27-46, bytes swapped back, trailing spaces cut */
    uint16_t id[256];        /* the raw IDENTIFY block */
};

/* One PRD entry (SFF-8038i): a physical region of memory. */
struct ata_prd {
    uint32_t addr;           /* physical address (even) */
    uint16_t bytes;          /* byte count; 0 means 64 KiB */
    uint16_t flags;          /* ATA_PRD_EOT on the last entry */
};
#define ATA_PRD_EOT 0x8000u

/* ---- basic calls ---- */

/* Fills *d for the drive at (channel, slave): selects it, checks that it
 * answers, sends IDENTIFY DEVICE, checks word 255 (signature 0xA5 and the
 * checksum) and parses the capacity, LBA48 support and model. */
int ata_probe(struct ata_drive *d, int channel, int slave);

/* Software reset of both drives of `channel` (device control SRST set,
 * then cleared), then waits for BSY to clear; ATA_OK if the master then
 * shows DRDY.  Leaves nIEN clear. */
int ata_reset(int channel);

/* PIO: `count` sectors from/to `buf` (4-byte aligned). */
int ata_pio_read(struct ata_drive *d, uint64_t lba, uint32_t count, void *buf, int ext);
int ata_pio_write(struct ata_drive *d, uint64_t lba, uint32_t count, const void *buf, int ext);

/* A command without data (FLUSH CACHE, SET FEATURES, anything else):
 * writes features and count, sends `cmd`, waits for BSY to clear, reads
 * the status (which acknowledges the interrupt). */
int ata_nodata(struct ata_drive *d, uint8_t cmd, uint8_t features, uint8_t count);
int ata_flush(struct ata_drive *d, int ext);        /* FLUSH CACHE [EXT] */
int ata_set_features(struct ata_drive *d, uint8_t features, uint8_t count);

/* ---- DMA ---- */

/* Describes the contiguous buffer [buf, buf + bytes) in `table` (at most
 * `max` entries): pieces of at most 64 KiB that do not cross a 64 KiB
 * boundary; marks the last with ATA_PRD_EOT.  Returns the number of
 * entries, 0 if `max` is too small or bytes is 0 or odd. */
int ata_prd_build(struct ata_prd *table, int max, const void *buf, uint32_t bytes);

/* Total bytes a PRD table describes (follows it to ATA_PRD_EOT, at most
 * 256 entries; 0 if no EOT there). */
uint32_t ata_prd_total(const struct ata_prd *table);

/* Polled DMA: issues READ DMA [EXT] / WRITE DMA [EXT] of `count` sectors
 * through `table` (whose total must be count * 512), starts the bus
 * master and polls its status until the interrupt bit is set (or the
 * device shows ERR with BSY and DRQ clear: a command that failed before
 * any transfer); then stops the engine and checks the ATA status, the
 * bus-master error bit, and that the engine went idle by itself.  Works
 * with or without ata_irq_enable. */
int ata_dma_read(struct ata_drive *d, uint64_t lba, uint32_t count,
                 const struct ata_prd *table, int ext);
int ata_dma_write(struct ata_drive *d, uint64_t lba, uint32_t count,
                  const struct ata_prd *table, int ext);

/* ---- interrupt-driven DMA ---- */

/* Called from the interrupt handler (interrupts off) when a request
 * started with ata_dma_start has completed; `result` as ata_dma_read's.
 * The callback may start the channel's next request. */
typedef void (*ata_done_fn)(int channel, int result);

/* Enables the IDE interrupts: PLIC sources 1 and 2 (priority 1, threshold
 * 0), mie.MEIE and mstatus.MIE, and installs the driver's trap handler
 * (rt_set_trap_handler; any other trap prints and exits 255).  Interrupts
 * already pending at the PLIC are drained first.  `done` may be NULL. */
void ata_irq_enable(ata_done_fn done);
void ata_irq_disable(void);          /* undoes ata_irq_enable */

/* Issues a DMA request (write = 0: READ DMA [EXT], 1: WRITE DMA [EXT])
 * and returns at once; its completion comes as an interrupt.  One request
 * per channel at a time (ATA_E_BUSY otherwise).  `table` and the buffers
 * must stay untouched until completion. */
int ata_dma_start(struct ata_drive *d, uint64_t lba, uint32_t count,
                  const struct ata_prd *table, int ext, int write);

/* 1 while the channel's request is in flight. */
int ata_busy(int channel);
/* Abandon the channel's request in flight: stop the bus master and reset
 * the channel (SRST). The disk may still carry out what was asked. */
void ata_abandon(int channel);

/* Sleeps (wfi) until the channel has no request in flight; returns the
 * result of its last request. */
int ata_wait(int channel);

/* ---- reporting ---- */

/* Name of a result code ("ok", "device error", ...). */
const char *ata_strerror(int result);

/* Prints "<result name> (status xx error xx)" without a newline. */
void ata_print_result(const struct ata_drive *d, int result);

/* Two lower-case hex digits. */
void ata_put_hex8(uint8_t v);

#endif
