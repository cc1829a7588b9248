//! Calibration kept in flash so it survives power cuts: two alternating sectors, each holding one
//! record with a magic, a format version, a generation counter and a CRC-32. A save always erases
//! and writes the sector that does *not* hold the newest good record, so a power cut at any point
//! of a save (before, during or after the erase, or mid-program) leaves the last good record
//! readable; [`Store::load`] takes the valid record with the highest generation.
//!
//! [`Flash`] is the hardware seam: the RP2040 firmware implements it over the ROM flash routines,
//! the host simulator and the tests use [`RamFlash`], which behaves like NOR flash (erase sets
//! 0xFF, programming can only clear bits) and can be told to lose power after N operations.
//!
//! # Record layout ([`RECORD_LEN`] = 62 bytes, little-endian, at the start of its sector)
//! | bytes  | field                                                     |
//! |--------|-----------------------------------------------------------|
//! | 0..4   | magic [`RECORD_MAGIC`] (`"SHCL"`)                          |
//! | 4      | version [`RECORD_VERSION`]                                |
//! | 5      | channel count ([`CHANNELS`] = 4)                          |
//! | 6..10  | generation, u32                                           |
//! | 10..58 | 4 × calibration: offset, grams_ref, counts_ref, each i32  |
//! | 58..62 | CRC-32/ISO-HDLC (zlib's `crc32`) of bytes 0..58           |
//!
//! The record is programmed as one whole page, padded with 0xFF. A record counts only with the
//! right magic, version, channel count and CRC and sane calibrations (grams_ref > 0,
//! counts_ref ≠ 0). Generations are compared as plain `u32`: they start at 1 and grow by one per
//! save, and the flash wears out (~100 000 erases a sector) long before 2³² saves; a save that
//! would pass `u32::MAX` is refused ([`FlashError::GenerationsExhausted`]) instead of wrapping.

use crate::calibration::Calibration;

/// Channels a record holds (the most a node has: [`storehub_wire::MAX_CHANNELS`]).
pub const CHANNELS: usize = storehub_wire::MAX_CHANNELS as usize;

/// The record's first four bytes, "SHCL" little-endian.
pub const RECORD_MAGIC: u32 = u32::from_le_bytes(*b"SHCL");

/// The record layout's version; a record of another version is not read.
pub const RECORD_VERSION: u8 = 1;

/// Bytes of one encoded record, CRC included (see the module docs for the layout).
pub const RECORD_LEN: usize = 10 + CHANNELS * 12 + 4;

/// The largest page [`Store::save`] can program (the RP2040's 256 bytes).
pub const MAX_PAGE_SIZE: usize = 256;

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
    /// The record read back after programming differs from the one written (worn flash); the
    /// previous record stays the current one.
    Verify,
    /// The generation counter reached `u32::MAX`; the store cannot save a newer record.
    GenerationsExhausted,
}

/// The calibration of every channel, as one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    /// Increases by one with every save; the higher of two valid records is the newer.
    pub generation: u32,
    pub channels: [Calibration; CHANNELS],
}

impl Record {
    /// The record's bytes as laid out in the module docs.
    pub fn encode(&self) -> [u8; RECORD_LEN] {
        let mut out = [0u8; RECORD_LEN];
        let mut w = Writer { buf: &mut out, at: 0 };
        w.put(&RECORD_MAGIC.to_le_bytes());
        w.put(&[RECORD_VERSION, CHANNELS as u8]);
        w.put(&self.generation.to_le_bytes());
        for c in &self.channels {
            w.put(&c.offset.to_le_bytes());
            w.put(&c.grams_ref.to_le_bytes());
            w.put(&c.counts_ref.to_le_bytes());
        }
        let crc = crc32fast::hash(w.buf.get(..RECORD_LEN - 4).unwrap_or(&[]));
        w.put(&crc.to_le_bytes());
        out
    }

    /// The record in `bytes`, `None` unless magic, version, channel count, CRC and every
    /// calibration (grams_ref > 0, counts_ref ≠ 0) are right.
    pub fn decode(bytes: &[u8; RECORD_LEN]) -> Option<Record> {
        let (body, crc) = bytes.split_at(RECORD_LEN - 4);
        if crc32fast::hash(body) != u32::from_le_bytes(crc.try_into().ok()?) {
            return None;
        }
        let mut r = Reader { buf: body, at: 0 };
        if r.u32()? != RECORD_MAGIC || r.u8()? != RECORD_VERSION || usize::from(r.u8()?) != CHANNELS {
            return None;
        }
        let generation = r.u32()?;
        let mut channels = [Calibration::UNCALIBRATED; CHANNELS];
        for c in channels.iter_mut() {
            let (offset, grams_ref, counts_ref) = (r.u32()? as i32, r.u32()? as i32, r.u32()? as i32);
            if grams_ref <= 0 || counts_ref == 0 {
                return None;
            }
            *c = Calibration { offset, grams_ref, counts_ref };
        }
        Some(Record { generation, channels })
    }
}

struct Writer<'b> {
    buf: &'b mut [u8],
    at: usize,
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) {
        if let Some(dst) = self.buf.get_mut(self.at..self.at + bytes.len()) {
            dst.copy_from_slice(bytes);
        }
        self.at += bytes.len();
    }
}

struct Reader<'b> {
    buf: &'b [u8],
    at: usize,
}

impl Reader<'_> {
    fn u8(&mut self) -> Option<u8> {
        let b = *self.buf.get(self.at)?;
        self.at += 1;
        Some(b)
    }

    fn u32(&mut self) -> Option<u32> {
        let b: [u8; 4] = self.buf.get(self.at..self.at + 4)?.try_into().ok()?;
        self.at += 4;
        Some(u32::from_le_bytes(b))
    }
}

/// The two-sector calibration store over a [`Flash`].
pub struct Store<F: Flash> {
    flash: F,
    /// Offset of the first of the two sectors; the second follows it.
    base: u32,
    /// The sector (0 or 1) and generation of the newest valid record the last load or save saw.
    newest: Option<(u8, u32)>,
}

impl<F: Flash> Store<F> {
    /// A store using the two sectors at `base` and `base + F::SECTOR_SIZE`.
    pub fn new(flash: F, base: u32) -> Store<F> {
        Store { flash, base, newest: None }
    }

    /// The newest valid record, `None` when neither sector holds one (a new node). A sector that
    /// cannot be read counts as holding no record.
    pub fn load(&mut self) -> Option<Record> {
        let best = self.scan(false).ok().flatten();
        self.newest = best.map(|(slot, rec)| (slot, rec.generation));
        best.map(|(_, rec)| rec)
    }

    /// The sector and record of the newest valid record. A sector that cannot be read counts as
    /// holding none when `strict` is false, and fails the scan when it is true (a save must not
    /// guess which sector is safe to erase).
    fn scan(&mut self, strict: bool) -> Result<Option<(u8, Record)>, FlashError> {
        let mut best: Option<(u8, Record)> = None;
        for slot in 0..2u8 {
            let rec = match self.read_slot(slot) {
                Ok(rec) => rec,
                Err(e) if strict => return Err(e),
                Err(_) => None,
            };
            if let Some(rec) = rec {
                if best.map_or(true, |(_, b)| rec.generation > b.generation) {
                    best = Some((slot, rec));
                }
            }
        }
        Ok(best)
    }

    /// Writes `channels` as the next generation into the sector not holding the newest record;
    /// returns the new generation.
    ///
    /// Reads both sectors first (so the sector holding the newest good record is never erased,
    /// whatever the caller loaded before; a read error there fails the save before anything is
    /// erased), erases the other one, programs the record as whole
    /// pages padded with 0xFF and reads it back. On any error the previous record stays the
    /// current one. (When only the read-back fails the new record may be in flash all the same;
    /// the next load then finds the new one, which is as good.)
    pub fn save(&mut self, channels: &[Calibration; CHANNELS]) -> Result<u32, FlashError> {
        let newest = self.scan(true)?.map(|(slot, rec)| (slot, rec.generation));
        self.newest = newest;
        let (slot, generation) = match newest {
            None => (0u8, 1u32),
            Some((newest, g)) => (1 - newest, g.checked_add(1).ok_or(FlashError::GenerationsExhausted)?),
        };
        let record = Record { generation, channels: *channels }.encode();
        let page = F::PAGE_SIZE as usize;
        if page == 0 {
            return Err(FlashError::Unaligned);
        }
        let len = RECORD_LEN.div_ceil(page) * page;
        let mut buf = [0xFFu8; MAX_PAGE_SIZE];
        let data = buf.get_mut(..len).ok_or(FlashError::Unaligned)?;
        if let Some(dst) = data.get_mut(..RECORD_LEN) {
            dst.copy_from_slice(&record);
        }
        let offset = self.slot_offset(slot)?;
        self.flash.erase(offset)?;
        self.flash.program(offset, data)?;
        let mut back = [0u8; RECORD_LEN];
        self.flash.read(offset, &mut back)?;
        if back != record {
            return Err(FlashError::Verify);
        }
        self.newest = Some((slot, generation));
        Ok(generation)
    }

    /// The generation of the newest valid record the last load or save saw.
    pub fn generation(&self) -> Option<u32> {
        self.newest.map(|(_, g)| g)
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

    fn slot_offset(&self, slot: u8) -> Result<u32, FlashError> {
        F::SECTOR_SIZE
            .checked_mul(u32::from(slot))
            .and_then(|o| self.base.checked_add(o))
            .ok_or(FlashError::OutOfRange)
    }

    fn read_slot(&mut self, slot: u8) -> Result<Option<Record>, FlashError> {
        let offset = self.slot_offset(slot)?;
        let mut bytes = [0u8; RECORD_LEN];
        self.flash.read(offset, &mut bytes)?;
        Ok(Record::decode(&bytes))
    }
}

/// `N` bytes of simulated NOR flash with 4 KiB sectors and 256-byte pages, for the host
/// simulator and tests.
///
/// A power cut is simulated by [`RamFlash::cut_power_after`]: the erases and programs after the
/// given number succeed no more. The one the power dies in does only its first `torn` bytes
/// (erased to 0xFF, or programmed) and fails with [`FlashError::Device`]; every operation, reads
/// included, then fails with [`FlashError::Device`] until [`RamFlash::restore_power`].
#[derive(Clone)]
pub struct RamFlash<const N: usize> {
    pub bytes: [u8; N],
    /// Erases and programs still allowed before the power cut, with the torn length.
    cut: Option<(u32, usize)>,
    powered: bool,
    /// Erases and programs done since creation.
    ops: u32,
}

impl<const N: usize> RamFlash<N> {
    /// Erased flash (all 0xFF).
    pub fn new() -> RamFlash<N> {
        RamFlash { bytes: [0xFF; N], cut: None, powered: true, ops: 0 }
    }

    /// Flash holding `bytes` (e.g. an image the simulator saved to a file).
    pub fn from_bytes(bytes: [u8; N]) -> RamFlash<N> {
        RamFlash { bytes, ..RamFlash::new() }
    }

    /// The power dies in the (`ops` + 1)-th erase or program from now, which does nothing.
    pub fn cut_power_after(&mut self, ops: u32) {
        self.cut_power_torn(ops, 0);
    }

    /// The power dies in the (`ops` + 1)-th erase or program from now, which does only its first
    /// `torn` bytes (a torn erase or a torn write).
    pub fn cut_power_torn(&mut self, ops: u32, torn: usize) {
        self.cut = Some((ops, torn));
    }

    /// Power is back: operations work again (no cut scheduled).
    pub fn restore_power(&mut self) {
        self.cut = None;
        self.powered = true;
    }

    pub fn is_powered(&self) -> bool {
        self.powered
    }

    /// Erases and programs done so far (successful ones).
    pub fn ops(&self) -> u32 {
        self.ops
    }

    /// Counts an operation of `len` bytes against a scheduled cut: how many of its bytes get
    /// done (all of them, or the torn prefix when the power dies in it).
    fn spend(&mut self, len: usize) -> usize {
        match self.cut {
            Some((0, torn)) => {
                self.cut = None;
                self.powered = false;
                torn.min(len)
            }
            Some((n, torn)) => {
                self.cut = Some((n - 1, torn));
                len
            }
            None => len,
        }
    }

    fn range(offset: u32, len: usize) -> Result<core::ops::Range<usize>, FlashError> {
        let start = usize::try_from(offset).map_err(|_| FlashError::OutOfRange)?;
        let end = start.checked_add(len).ok_or(FlashError::OutOfRange)?;
        if end > N {
            return Err(FlashError::OutOfRange);
        }
        Ok(start..end)
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
        let range = Self::range(offset, buf.len())?;
        if !self.powered {
            return Err(FlashError::Device);
        }
        let src = self.bytes.get(range).ok_or(FlashError::OutOfRange)?;
        buf.copy_from_slice(src);
        Ok(())
    }

    fn erase(&mut self, offset: u32) -> Result<(), FlashError> {
        if offset % Self::SECTOR_SIZE != 0 {
            return Err(FlashError::Unaligned);
        }
        let range = Self::range(offset, Self::SECTOR_SIZE as usize)?;
        if !self.powered {
            return Err(FlashError::Device);
        }
        let done = self.spend(range.len());
        let sector = self.bytes.get_mut(range).ok_or(FlashError::OutOfRange)?;
        sector.iter_mut().take(done).for_each(|b| *b = 0xFF);
        if !self.powered {
            return Err(FlashError::Device);
        }
        self.ops += 1;
        Ok(())
    }

    fn program(&mut self, offset: u32, data: &[u8]) -> Result<(), FlashError> {
        if offset % Self::PAGE_SIZE != 0 || data.len() % Self::PAGE_SIZE as usize != 0 {
            return Err(FlashError::Unaligned);
        }
        let range = Self::range(offset, data.len())?;
        if !self.powered {
            return Err(FlashError::Device);
        }
        let done = self.spend(range.len());
        let dst = self.bytes.get_mut(range).ok_or(FlashError::OutOfRange)?;
        dst.iter_mut().zip(data).take(done).for_each(|(d, s)| *d &= *s);
        if !self.powered {
            return Err(FlashError::Device);
        }
        self.ops += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Flash8 = RamFlash<8192>;

    const CAL_A: Calibration = Calibration { offset: 8_000, grams_ref: 1_000, counts_ref: 42_000 };
    const CAL_B: Calibration = Calibration { offset: -5, grams_ref: 500, counts_ref: -221_000 };
    const U: Calibration = Calibration::UNCALIBRATED;

    /// The calibrations of save number `i` (1, 2, 3, …): distinct for every `i`.
    fn cals(i: i32) -> [Calibration; CHANNELS] {
        [Calibration { offset: 1_000 * i, grams_ref: 500, counts_ref: 21_000 + i }, U, CAL_B, U]
    }

    /// Generation 3; channel 0 = 8 000 offset, 1 000 g ↔ 42 000 counts; channel 2 = −5 offset,
    /// 500 g ↔ −221 000 counts; channels 1 and 3 uncalibrated (0, 1, 1). The bytes are the fields
    /// little-endian in layout order; the CRC is Python's `zlib.crc32(bytes[:58])` = 0xC3508C3C.
    #[test]
    fn a_known_record_is_these_62_bytes() {
        let rec = Record { generation: 3, channels: [CAL_A, U, CAL_B, U] };
        #[rustfmt::skip]
        let expected: [u8; RECORD_LEN] = [
            0x53, 0x48, 0x43, 0x4C, // "SHCL"
            0x01, 0x04,             // version 1, 4 channels
            0x03, 0x00, 0x00, 0x00, // generation 3
            0x40, 0x1F, 0x00, 0x00, 0xE8, 0x03, 0x00, 0x00, 0x10, 0xA4, 0x00, 0x00, // 8000, 1000, 42000
            0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, // 0, 1, 1
            0xFB, 0xFF, 0xFF, 0xFF, 0xF4, 0x01, 0x00, 0x00, 0xB8, 0xA0, 0xFC, 0xFF, // -5, 500, -221000
            0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, // 0, 1, 1
            0x3C, 0x8C, 0x50, 0xC3, // CRC 0xC3508C3C
        ];
        assert_eq!(rec.encode(), expected);
        assert_eq!(Record::decode(&expected), Some(rec));
    }

    #[test]
    fn records_with_a_bad_field_are_not_read() {
        let good = Record { generation: 3, channels: [CAL_A, U, CAL_B, U] };
        // Each field broken on its own, the CRC recomputed so only the field is wrong.
        let resealed = |edit: &dyn Fn(&mut [u8; RECORD_LEN])| {
            let mut b = good.encode();
            edit(&mut b);
            let crc = crc32fast::hash(&b[..RECORD_LEN - 4]).to_le_bytes();
            b[RECORD_LEN - 4..].copy_from_slice(&crc);
            Record::decode(&b)
        };
        assert_eq!(resealed(&|_| {}), Some(good));
        assert_eq!(resealed(&|b| b[0] = b'X'), None, "magic");
        assert_eq!(resealed(&|b| b[4] = 2), None, "version");
        assert_eq!(resealed(&|b| b[5] = 3), None, "channel count");
        assert_eq!(resealed(&|b| b[14..18].copy_from_slice(&0i32.to_le_bytes())), None, "grams_ref 0");
        assert_eq!(resealed(&|b| b[14..18].copy_from_slice(&(-1i32).to_le_bytes())), None, "grams_ref < 0");
        assert_eq!(resealed(&|b| b[18..22].copy_from_slice(&0i32.to_le_bytes())), None, "counts_ref 0");
        // One flipped bit without resealing: the CRC catches it.
        let mut b = good.encode();
        b[30] ^= 0x10;
        assert_eq!(Record::decode(&b), None);
        // Erased flash is no record.
        assert_eq!(Record::decode(&[0xFF; RECORD_LEN]), None);
    }

    #[test]
    fn blank_flash_loads_nothing() {
        let mut store = Store::new(Flash8::new(), 0);
        assert_eq!(store.load(), None);
        assert_eq!(store.generation(), None);
    }

    #[test]
    fn saves_round_trip_and_alternate_between_the_sectors() {
        let mut store = Store::new(Flash8::new(), 0);
        // Generation 1 → sector A (offset 0), 2 → B (4096), 3 → A again.
        assert_eq!(store.save(&cals(1)), Ok(1));
        assert_eq!(Record::decode(store.flash().bytes[..RECORD_LEN].try_into().unwrap()).map(|r| r.generation), Some(1));
        assert!(store.flash().bytes[4096..8192].iter().all(|&b| b == 0xFF), "B untouched");
        assert_eq!(store.save(&cals(2)), Ok(2));
        assert_eq!(Record::decode(store.flash().bytes[4096..4096 + RECORD_LEN].try_into().unwrap()).map(|r| r.generation), Some(2));
        assert_eq!(store.save(&cals(3)), Ok(3));
        assert_eq!(Record::decode(store.flash().bytes[..RECORD_LEN].try_into().unwrap()).map(|r| r.generation), Some(3));
        // The page is padded with 0xFF after the record; the rest of the sector stays erased.
        assert!(store.flash().bytes[RECORD_LEN..4096].iter().all(|&b| b == 0xFF));
        // A fresh store over the same flash (a reboot) finds generation 3.
        let mut again = Store::new(store.flash().clone(), 0);
        assert_eq!(again.load(), Some(Record { generation: 3, channels: cals(3) }));
        // Each save is one erase and one program.
        assert_eq!(store.flash().ops(), 6);
    }

    #[test]
    fn a_corrupted_newest_record_falls_back_to_the_older() {
        let mut store = Store::new(Flash8::new(), 0);
        store.save(&cals(1)).unwrap(); // A
        store.save(&cals(2)).unwrap(); // B, the newest
        let mut flash = store.flash().clone();
        flash.bytes[4096 + 20] ^= 0x01; // one bit of B's channel 0
        let mut reboot = Store::new(flash, 0);
        assert_eq!(reboot.load(), Some(Record { generation: 1, channels: cals(1) }));
        // The next save goes to B (the sector not holding the newest good record), as gen 2.
        assert_eq!(reboot.save(&cals(5)), Ok(2));
        assert_eq!(Record::decode(reboot.flash().bytes[..RECORD_LEN].try_into().unwrap()).map(|r| r.generation), Some(1));
        assert_eq!(reboot.load(), Some(Record { generation: 2, channels: cals(5) }));
    }

    #[test]
    fn a_store_at_a_base_offset_and_bad_regions() {
        // Sectors at 4096 and 8192 of a 12 KiB flash; the first sector is not touched.
        let mut store = Store::new(RamFlash::<12288>::new(), 4096);
        assert_eq!(store.save(&cals(1)), Ok(1));
        assert_eq!(store.save(&cals(2)), Ok(2));
        assert!(store.flash().bytes[..4096].iter().all(|&b| b == 0xFF));
        assert_eq!(store.load().map(|r| r.generation), Some(2));
        // The second sector would end past the flash: the first save already fails (it cannot
        // read both sectors) and writes nothing.
        let mut short = Store::new(RamFlash::<8192>::new(), 4096);
        assert_eq!(short.save(&cals(1)), Err(FlashError::OutOfRange));
        assert_eq!(short.flash().ops(), 0);
        assert_eq!(short.load(), None);
        let mut unaligned = Store::new(RamFlash::<12288>::new(), 100);
        assert_eq!(unaligned.save(&cals(1)), Err(FlashError::Unaligned));
    }

    #[test]
    fn ram_flash_behaves_like_nor() {
        let mut f = RamFlash::<8192>::new();
        let mut page = [0xFFu8; 256];
        page[0] = 0b1010_1010;
        f.program(256, &page).unwrap();
        page[0] = 0b0110_0110;
        f.program(256, &page).unwrap();
        // Programming only clears bits: 1010_1010 AND 0110_0110 = 0010_0010.
        assert_eq!(f.bytes[256], 0b0010_0010);
        f.erase(0).unwrap();
        assert_eq!(f.bytes[256], 0xFF);
        assert_eq!(f.erase(100), Err(FlashError::Unaligned));
        assert_eq!(f.erase(8192), Err(FlashError::OutOfRange));
        assert_eq!(f.program(100, &page), Err(FlashError::Unaligned));
        assert_eq!(f.program(0, &page[..100]), Err(FlashError::Unaligned));
        assert_eq!(f.program(8192, &page), Err(FlashError::OutOfRange));
        assert_eq!(f.program(u32::MAX - 255, &page), Err(FlashError::OutOfRange)); // 0xFFFF_FF00: aligned, far past the end
        let mut buf = [0u8; 4];
        assert_eq!(f.read(8190, &mut buf), Err(FlashError::OutOfRange));
        assert_eq!(f.read(u32::MAX, &mut buf), Err(FlashError::OutOfRange));
        assert_eq!(f.ops(), 3);
    }

    #[test]
    fn a_power_cut_tears_the_operation_it_hits_and_stops_the_rest() {
        let mut f = RamFlash::<8192>::new();
        let zeros = [0u8; 256];
        // One program allowed, the second is torn after 10 bytes.
        f.cut_power_torn(1, 10);
        f.program(0, &zeros).unwrap();
        assert_eq!(f.program(256, &zeros), Err(FlashError::Device));
        assert!(f.bytes[256..266].iter().all(|&b| b == 0) && f.bytes[266..512].iter().all(|&b| b == 0xFF));
        assert!(!f.is_powered());
        assert_eq!(f.read(0, &mut [0u8; 4]), Err(FlashError::Device));
        assert_eq!(f.erase(4096), Err(FlashError::Device));
        f.restore_power();
        // A torn erase: the first 100 bytes of the sector went back to 0xFF, the rest did not.
        f.cut_power_torn(0, 100);
        assert_eq!(f.erase(0), Err(FlashError::Device));
        assert!(f.bytes[..100].iter().all(|&b| b == 0xFF) && f.bytes[100..256].iter().all(|&b| b == 0));
        f.restore_power();
        f.erase(0).unwrap();
        assert!(f.bytes[..4096].iter().all(|&b| b == 0xFF));
    }

    /// A save's operations in order: erase the other sector, program its page. Cut the power
    /// after k = 0, 1, 2 of them, the one it hits torn at lengths from nothing to all of it,
    /// starting from 0, 1 and 2 earlier saves; then power up and load from the same flash.
    #[test]
    fn a_power_cut_at_every_step_of_a_save_keeps_the_old_or_the_new_record() {
        const TORN: [usize; 10] = [0, 1, 4, 10, 57, 61, 62, 100, 255, 4096];
        for prior in 0..=2 {
            let mut base = Store::new(Flash8::new(), 0);
            for i in 1..=prior {
                base.save(&cals(i)).unwrap();
            }
            let old = base.load();
            let new = Record { generation: prior as u32 + 1, channels: cals(10 + prior) };
            // How many erases and programs a save does: measured on a copy.
            let mut probe = Store::new(base.flash().clone(), 0);
            let before = probe.flash().ops();
            probe.save(&new.channels).unwrap();
            let save_ops = probe.flash().ops() - before;
            assert_eq!(save_ops, 2);
            for k in 0..=save_ops {
                for torn in TORN {
                    let mut flash = base.flash().clone();
                    flash.cut_power_torn(k, torn);
                    let mut store = Store::new(flash, 0);
                    store.load();
                    let saved = store.save(&new.channels);
                    assert_eq!(saved.is_ok(), k == save_ops, "prior {prior}, cut after {k}, torn {torn}: {saved:?}");
                    let mut flash = store.flash().clone();
                    flash.restore_power();
                    let mut reboot = Store::new(flash, 0);
                    let got = reboot.load();
                    let ok = got == Some(new) || (got == old && (old.is_some() || k < save_ops));
                    assert!(ok, "prior {prior}, cut after {k}, torn {torn}: loaded {got:?}");
                    if saved.is_ok() {
                        assert_eq!(got, Some(new));
                    }
                    // And the store still works: the next save lands and is loaded.
                    let g = reboot.save(&cals(99)).unwrap();
                    assert_eq!(reboot.load(), Some(Record { generation: g, channels: cals(99) }));
                    assert_eq!(g, got.map_or(1, |r| r.generation + 1));
                }
            }
        }
    }

    /// Flash whose programs leave bit 0 of every byte set (a worn cell), and whose reads of
    /// one sector can be made to fail.
    struct Faulty {
        inner: Flash8,
        unreadable: Option<u32>,
    }

    impl Flash for Faulty {
        const SECTOR_SIZE: u32 = 4096;
        const PAGE_SIZE: u32 = 256;

        fn read(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), FlashError> {
            if self.unreadable == Some(offset / 4096) {
                return Err(FlashError::Device);
            }
            self.inner.read(offset, buf)
        }

        fn erase(&mut self, offset: u32) -> Result<(), FlashError> {
            self.inner.erase(offset)
        }

        fn program(&mut self, offset: u32, data: &[u8]) -> Result<(), FlashError> {
            let mut worn = [0u8; 256];
            worn.copy_from_slice(&data[..256]);
            worn.iter_mut().for_each(|b| *b |= 1);
            self.inner.program(offset, &worn)
        }
    }

    #[test]
    fn a_record_that_reads_back_wrong_is_a_verify_error() {
        // The magic's first byte 0x53 has bit 0 set already, the version byte 0x01 too, but
        // the channel count 0x04 reads back 0x05: the read-back differs.
        let mut store = Store::new(Faulty { inner: Flash8::new(), unreadable: None }, 0);
        assert_eq!(store.save(&cals(1)), Err(FlashError::Verify));
        assert_eq!(store.load(), None);
    }

    #[test]
    fn a_save_that_cannot_read_both_sectors_erases_nothing() {
        // Generation 1 in A, 2 in B; B cannot be read just now. Guessing "B is empty" would
        // erase B, the newest record: the save fails instead and both records stay.
        let mut good = Store::new(Flash8::new(), 0);
        good.save(&cals(1)).unwrap();
        good.save(&cals(2)).unwrap();
        let mut store = Store::new(Faulty { inner: good.flash().clone(), unreadable: Some(1) }, 0);
        assert_eq!(store.save(&cals(3)), Err(FlashError::Device));
        assert_eq!(store.flash().inner.ops(), 4, "no erase or program after the 4 of the two saves");
        // Loading takes what it can read meanwhile; once B reads again, generation 2 is there.
        assert_eq!(store.load().map(|r| r.generation), Some(1));
        store.flash_mut().unreadable = None;
        assert_eq!(store.load(), Some(Record { generation: 2, channels: cals(2) }));
    }

    #[test]
    fn a_save_at_the_last_generation_is_refused() {
        let mut flash = Flash8::new();
        let rec = Record { generation: u32::MAX, channels: cals(1) }.encode();
        flash.bytes[..RECORD_LEN].copy_from_slice(&rec);
        let mut store = Store::new(flash, 0);
        assert_eq!(store.save(&cals(2)), Err(FlashError::GenerationsExhausted));
        assert_eq!(store.load().map(|r| r.channels), Some(cals(1)));
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    fn cals(i: u32) -> [Calibration; CHANNELS] {
        let c = Calibration { offset: i as i32, grams_ref: 1 + (i % 1000) as i32, counts_ref: 7 + i as i32 };
        [c, Calibration::UNCALIBRATED, c, Calibration::UNCALIBRATED]
    }

    proptest! {
        /// Saves with random power cuts (after a random number of operations, torn at a random
        /// length) and reboots in between: every load returns the last save that succeeded or
        /// the one that was cut, never nothing once a save has succeeded and never anything else.
        #[test]
        fn random_cuts_never_lose_the_last_good_record(steps in proptest::collection::vec((0u32..4, 0usize..300, any::<bool>()), 1..25)) {
            let mut flash = RamFlash::<8192>::new();
            let mut last_good: Option<[Calibration; CHANNELS]> = None;
            for (i, (after, torn, cut)) in steps.into_iter().enumerate() {
                let this = cals(i as u32);
                if cut {
                    flash.cut_power_torn(after, torn);
                }
                let mut store = Store::new(flash, 0);
                let saved = store.save(&this);
                flash = store.flash().clone();
                flash.restore_power();
                let got = Store::new(flash.clone(), 0).load().map(|r| r.channels);
                if saved.is_ok() {
                    prop_assert_eq!(got, Some(this));
                } else {
                    prop_assert!(got == last_good || got == Some(this), "step {}: {:?}", i, got);
                }
                if got.is_some() {
                    last_good = got;
                }
            }
        }
    }
}
