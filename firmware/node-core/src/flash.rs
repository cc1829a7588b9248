//! Calibration kept in flash so it survives power cuts: two alternating sectors, each holding one
//! record with a magic, a format version, a generation counter and a CRC-32. A save always erases
//! and writes the sector that does *not* hold the newest good record, so a power cut at any point
//! of a save (before, during or after the erase, or mid-program) leaves the last good record
//! readable; [`Store::load`] takes the valid record with the highest generation.
//!
//! [`Flash`] is the hardware seam: the RP2040 firmware implements it over the ROM flash routines,
//! the host simulator and the tests use [`RamFlash`], which behaves like NOR flash (erase sets
//! 0xFF, programming can only clear bits) and can be told to lose power after N operations.

use crate::calibration::Calibration;

/// Channels a record holds (the most a node has: [`storehub_wire::MAX_CHANNELS`]).
pub const CHANNELS: usize = storehub_wire::MAX_CHANNELS as usize;

/// The record's first four bytes, "SHCL" little-endian.
pub const RECORD_MAGIC: u32 = u32::from_le_bytes(*b"SHCL");

/// The record layout's version; a record of another version is not read.
pub const RECORD_VERSION: u8 = 1;

/// NOR flash as a node sees it. Offsets are from the start of the region the store may use.
pub trait Flash {
    /// Bytes per erase sector (4096 on the RP2040's QSPI flash).
    const SECTOR_SIZE: u32;
    /// Bytes per program page (256 on the RP2040); programs start on a page and cover whole pages.
    const PAGE_SIZE: u32;

    fn read(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), FlashError>;
    /// Sets the sector starting at `offset` (sector-aligned) to 0xFF.
    fn erase(&mut self, offset: u32) -> Result<(), FlashError>;
    /// Programs `data` at `offset` (page-aligned, a whole number of pages); bits only go 1 → 0.
    fn program(&mut self, offset: u32, data: &[u8]) -> Result<(), FlashError>;
}

/// Why a flash operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlashError {
    /// The offset or length is outside the region.
    OutOfRange,
    /// The offset or length is not sector- (erase) or page- (program) aligned.
    Unaligned,
    /// The device did not do it (on [`RamFlash`]: the simulated power cut).
    Device,
}

/// The calibration of every channel, as one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    /// Increases by one with every save; the higher of two valid records is the newer.
    pub generation: u32,
    pub channels: [Calibration; CHANNELS],
}

/// The two-sector calibration store over a [`Flash`].
pub struct Store<F: Flash> {
    flash: F,
    /// Offset of the first of the two sectors; the second follows it.
    base: u32,
    // The implementation adds what it needs (the newest slot and generation seen).
}

impl<F: Flash> Store<F> {
    /// A store using the two sectors at `base` and `base + F::SECTOR_SIZE`.
    pub fn new(flash: F, base: u32) -> Store<F> {
        Store { flash, base }
    }

    /// The newest valid record, `None` when neither sector holds one (a new node).
    pub fn load(&mut self) -> Option<Record> {
        todo!("issue 12 skeleton: filled in by the node-core engineer")
    }

    /// Writes `channels` as the next generation into the sector not holding the newest record;
    /// returns the new generation.
    pub fn save(&mut self, channels: &[Calibration; CHANNELS]) -> Result<u32, FlashError> {
        let _ = channels;
        todo!("issue 12 skeleton: filled in by the node-core engineer")
    }

    pub fn flash(&self) -> &F {
        &self.flash
    }

    pub fn flash_mut(&mut self) -> &mut F {
        &mut self.flash
    }

    pub fn base(&self) -> u32 {
        self.base
    }
}

/// `N` bytes of simulated NOR flash with 4 KiB sectors and 256-byte pages, for the host
/// simulator and tests.
pub struct RamFlash<const N: usize> {
    pub bytes: [u8; N],
    // The implementation adds the power-cut counter.
}

impl<const N: usize> RamFlash<N> {
    /// Erased flash (all 0xFF).
    pub fn new() -> RamFlash<N> {
        RamFlash { bytes: [0xFF; N] }
    }
}

impl<const N: usize> Default for RamFlash<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Flash for RamFlash<N> {
    const SECTOR_SIZE: u32 = 4096;
    const PAGE_SIZE: u32 = 256;

    fn read(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), FlashError> {
        let _ = (offset, buf);
        todo!("issue 12 skeleton")
    }

    fn erase(&mut self, offset: u32) -> Result<(), FlashError> {
        let _ = offset;
        todo!("issue 12 skeleton")
    }

    fn program(&mut self, offset: u32, data: &[u8]) -> Result<(), FlashError> {
        let _ = (offset, data);
        todo!("issue 12 skeleton")
    }
}
