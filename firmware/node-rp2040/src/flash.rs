//! node-core's [`Flash`] on the RP2040's own QSPI flash, for the calibration store, and the
//! flash unique id the node id comes from.
//!
//! The region is the last two 4 KiB sectors of the Pico's 2 MiB flash, 0x1FE000..0x200000
//! (`board::CALIBRATION_OFFSET`; memory.x keeps the program below it). [`RpFlash`] offsets are
//! relative to that region and checked against its 8 KiB, so the store is built with base 0 and
//! no store bug can erase the program. Reads go through XIP (the boot ROM flushes the XIP cache
//! after every erase and program). Erase and program use the boot ROM's flash_range_erase /
//! flash_range_program through the `rp2040-flash` crate, which runs the sequence connect, exit
//! XIP, operate, flush cache, re-enter XIP via the copied boot2, from RAM; this module turns
//! interrupts off around each call (nothing may fetch from flash meanwhile; core 1 is never
//! started and no DMA touches flash), copies data to RAM page by page first (the source must not
//! be in flash while XIP is off), feeds the watchdog before each step (a sector erase can take
//! up to 400 ms on a W25Q16, under the 500 ms watchdog) and reads back what it wrote.

use rp2040_hal::Watchdog;
use storehub_node_core::flash::{Flash, FlashError};

use crate::board::{self, RegionError};

/// The calibration region of the on-board flash.
pub struct RpFlash<'w> {
    watchdog: &'w Watchdog,
}

impl<'w> RpFlash<'w> {
    /// `watchdog` is fed before every erase and program.
    pub fn new(watchdog: &'w Watchdog) -> RpFlash<'w> {
        RpFlash { watchdog }
    }
}

fn region(offset: u32, len: u32, align: u32) -> Result<u32, FlashError> {
    board::calibration_flash_offset(offset, len, align).map_err(|e| match e {
        RegionError::OutOfRange => FlashError::OutOfRange,
        RegionError::Unaligned => FlashError::Unaligned,
    })
}

/// Reads `buf.len()` bytes at flash offset `at` through XIP.
fn xip_read(at: u32, buf: &mut [u8]) {
    let src = (board::XIP_BASE + at) as *const u8;
    for (i, b) in buf.iter_mut().enumerate() {
        // SAFETY: `at..at + buf.len()` was checked to lie in the calibration region, which is
        // mapped read-only at XIP_BASE + offset; volatile so a read after a program is not
        // served from an earlier one.
        *b = unsafe { core::ptr::read_volatile(src.add(i)) };
    }
}

impl Flash for RpFlash<'_> {
    const SECTOR_SIZE: u32 = board::SECTOR_SIZE;
    const PAGE_SIZE: u32 = board::PAGE_SIZE;

    fn read(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), FlashError> {
        let len = u32::try_from(buf.len()).map_err(|_| FlashError::OutOfRange)?;
        let at = region(offset, len, 1)?;
        xip_read(at, buf);
        Ok(())
    }

    fn erase(&mut self, offset: u32) -> Result<(), FlashError> {
        let at = region(offset, board::SECTOR_SIZE, board::SECTOR_SIZE)?;
        self.watchdog.feed();
        cortex_m::interrupt::free(|_| {
            // SAFETY: interrupts are off, core 1 is not running and no DMA reads flash, so
            // nothing fetches from flash while XIP is off; `at` is a sector of the calibration
            // region, away from the program; boot2 at 0x10000000 is the valid generic 03h one
            // (main.rs), which restores fast XIP afterwards.
            unsafe { rp2040_flash::flash::flash_range_erase(at, board::SECTOR_SIZE, true) }
        });
        // Check it took: every byte 0xFF.
        let mut chunk = [0u8; board::PAGE_SIZE as usize];
        for page in 0..board::SECTOR_SIZE / board::PAGE_SIZE {
            xip_read(at + page * board::PAGE_SIZE, &mut chunk);
            if chunk.iter().any(|b| *b != 0xFF) {
                return Err(FlashError::Device);
            }
        }
        Ok(())
    }

    fn program(&mut self, offset: u32, data: &[u8]) -> Result<(), FlashError> {
        let len = u32::try_from(data.len()).map_err(|_| FlashError::OutOfRange)?;
        let at = region(offset, len, board::PAGE_SIZE)?;
        let mut page = [0u8; board::PAGE_SIZE as usize];
        let mut back = [0u8; board::PAGE_SIZE as usize];
        for (i, chunk) in data.chunks(board::PAGE_SIZE as usize).enumerate() {
            let page_at = at + i as u32 * board::PAGE_SIZE;
            page.copy_from_slice(chunk);
            self.watchdog.feed();
            cortex_m::interrupt::free(|_| {
                // SAFETY: as in `erase`; `page` is on the stack (RAM), one whole page, at a
                // page-aligned offset inside the calibration region.
                unsafe { rp2040_flash::flash::flash_range_program(page_at, &page, true) }
            });
            // NOR programming only clears bits: a page that reads back different was not erased
            // first or the flash failed.
            xip_read(page_at, &mut back);
            if back != page {
                return Err(FlashError::Device);
            }
        }
        Ok(())
    }
}

/// The flash chip's 64-bit unique id (command 0x4B), as a u64 with the first byte the flash sent
/// as the most significant, which is how the Pico SDK prints it.
///
/// Read once at boot, before USB starts: XIP is off while the command runs.
pub fn unique_id() -> u64 {
    let mut id = [0u8; 8];
    cortex_m::interrupt::free(|_| {
        // SAFETY: as in `RpFlash::erase`: interrupts off, single core, no DMA; the command only
        // reads.
        unsafe { rp2040_flash::flash::flash_unique_id(&mut id, true) }
    });
    u64::from_be_bytes(id)
}
