//! UF2 images of the shelf-node firmware, for both ends of an update.
//!
//! - The build turns the linked ELF into a UF2 file ([`elf_to_uf2`]), which the RP2040's boot ROM
//!   takes when it is copied onto the RPI-RP2 drive.
//! - The hub checks a UF2 file before it sends a node into its bootloader ([`Image::parse`]): every
//!   block's magics, the RP2040 family id, block numbers 0..n in order, flash addresses; and it
//!   reads the firmware version the image carries ([`Image::fw_version`]), so it knows which
//!   version the node must announce after the update.
//!
//! The format (<https://github.com/microsoft/uf2>): 512-byte blocks, each
//! `magic0 magic1 flags target_addr payload_size block_no num_blocks family_id data[476] magic_end`,
//! all u32 little-endian; the RP2040 takes 256-byte payloads.
//!
//! The version tag: the firmware keeps [`FW_TAG`] followed by its major, minor and patch bytes in
//! its read-only data, so the version can be read from an image without running it.

use std::fmt;

pub const MAGIC_START0: u32 = 0x0A32_4655;
pub const MAGIC_START1: u32 = 0x9E5D_5157;
pub const MAGIC_END: u32 = 0x0AB1_6F30;
/// The `flags` bit saying the `family_id` field is set.
pub const FLAG_FAMILY_ID_PRESENT: u32 = 0x0000_2000;
/// The RP2040's UF2 family id.
pub const RP2040_FAMILY_ID: u32 = 0xE48B_FF56;
pub const BLOCK_LEN: usize = 512;
/// Payload bytes per block (one flash page).
pub const PAYLOAD_LEN: usize = 256;
/// The RP2040's flash as the CPU sees it (XIP), and the most a 16 MiB flash holds.
pub const FLASH_START: u32 = 0x1000_0000;
pub const FLASH_MAX_LEN: u32 = 16 * 1024 * 1024;

/// The bytes before the three version bytes in a firmware image.
pub const FW_TAG: &[u8; 16] = b"storehub-node-fw";

/// Why a file is not a shelf-node UF2 image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Uf2Error {
    /// The file's length is not a whole number of 512-byte blocks (or it is empty).
    Length { len: usize },
    /// Block `block` does not start or end with the UF2 magics.
    Magic { block: usize },
    /// Block `block` is not for the RP2040 (no family id, or another family's).
    Family { block: usize, found: Option<u32> },
    /// Block `block` says it is number `said` of `total`; expected number `block` of the file's count.
    Numbering { block: usize, said: u32, total: u32 },
    /// Block `block` writes outside the RP2040's flash or with a payload other than 256 bytes.
    Address { block: usize, addr: u32, size: u32 },
    /// The ELF file could not be read.
    Elf(&'static str),
}

impl fmt::Display for Uf2Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Uf2Error::Length { len } => write!(f, "{len} bytes is not a whole number of 512-byte UF2 blocks"),
            Uf2Error::Magic { block } => write!(f, "block {block} lacks the UF2 magic numbers (not a UF2 file, or damaged)"),
            Uf2Error::Family { block, found: Some(id) } => {
                write!(f, "block {block} is for UF2 family {id:#010x}, not the RP2040 ({RP2040_FAMILY_ID:#010x})")
            }
            Uf2Error::Family { block, found: None } => write!(f, "block {block} names no UF2 family; a node image must be for the RP2040"),
            Uf2Error::Numbering { block, said, total } => {
                write!(f, "block {block} says it is block {said} of {total}: the file is truncated, reordered or joined from two images")
            }
            Uf2Error::Address { block, addr, size } => {
                write!(f, "block {block} writes {size} bytes at {addr:#010x}, outside the RP2040's flash or not one 256-byte page")
            }
            Uf2Error::Elf(what) => write!(f, "not a usable RP2040 ELF file: {what}"),
        }
    }
}

impl std::error::Error for Uf2Error {}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// A checked UF2 image: the flash pages it writes, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// (flash address, 256 bytes) per block.
    pub pages: Vec<(u32, [u8; PAYLOAD_LEN])>,
}

impl Image {
    /// Checks every block of `file` (see the module docs).
    pub fn parse(file: &[u8]) -> Result<Image, Uf2Error> {
        if file.is_empty() || file.len() % BLOCK_LEN != 0 {
            return Err(Uf2Error::Length { len: file.len() });
        }
        let total = file.len() / BLOCK_LEN;
        let mut pages = Vec::with_capacity(total);
        for (i, b) in file.chunks_exact(BLOCK_LEN).enumerate() {
            if u32_at(b, 0) != MAGIC_START0 || u32_at(b, 4) != MAGIC_START1 || u32_at(b, 508) != MAGIC_END {
                return Err(Uf2Error::Magic { block: i });
            }
            let (flags, addr, size, no, count, family) = (u32_at(b, 8), u32_at(b, 12), u32_at(b, 16), u32_at(b, 20), u32_at(b, 24), u32_at(b, 28));
            if flags & FLAG_FAMILY_ID_PRESENT == 0 {
                return Err(Uf2Error::Family { block: i, found: None });
            }
            if family != RP2040_FAMILY_ID {
                return Err(Uf2Error::Family { block: i, found: Some(family) });
            }
            if no as usize != i || count as usize != total {
                return Err(Uf2Error::Numbering { block: i, said: no, total: count });
            }
            let in_flash = addr >= FLASH_START && addr.checked_add(size).is_some_and(|end| end <= FLASH_START + FLASH_MAX_LEN);
            if size as usize != PAYLOAD_LEN || !in_flash || addr % PAYLOAD_LEN as u32 != 0 {
                return Err(Uf2Error::Address { block: i, addr, size });
            }
            let mut page = [0u8; PAYLOAD_LEN];
            page.copy_from_slice(&b[32..32 + PAYLOAD_LEN]);
            pages.push((addr, page));
        }
        Ok(Image { pages })
    }

    /// The firmware version tagged in the image (the first [`FW_TAG`] followed by three bytes),
    /// `None` when the image carries no tag (not a storehub node firmware).
    pub fn fw_version(&self) -> Option<(u8, u8, u8)> {
        // The tag may straddle two pages: search the pages joined in address order.
        let mut sorted: Vec<&(u32, [u8; PAYLOAD_LEN])> = self.pages.iter().collect();
        sorted.sort_by_key(|(addr, _)| *addr);
        let mut joined = Vec::with_capacity(sorted.len() * PAYLOAD_LEN);
        let mut last_end = None;
        for (addr, page) in sorted {
            if last_end.is_some_and(|end| end != *addr) {
                joined.extend_from_slice(&[0u8; FW_TAG.len()]); // a gap breaks any straddling tag
            }
            joined.extend_from_slice(page);
            last_end = Some(addr + PAYLOAD_LEN as u32);
        }
        let at = joined.windows(FW_TAG.len() + 3).position(|w| &w[..FW_TAG.len()] == FW_TAG)?;
        let v = &joined[at + FW_TAG.len()..at + FW_TAG.len() + 3];
        Some((v[0], v[1], v[2]))
    }

    /// Bytes of flash the image writes.
    pub fn flash_bytes(&self) -> usize {
        self.pages.len() * PAYLOAD_LEN
    }
}

/// Encodes pages (address, 256 bytes) as UF2 blocks for the RP2040.
pub fn encode(pages: &[(u32, [u8; PAYLOAD_LEN])]) -> Vec<u8> {
    let mut out = Vec::with_capacity(pages.len() * BLOCK_LEN);
    for (i, (addr, data)) in pages.iter().enumerate() {
        let mut block = [0u8; BLOCK_LEN];
        for (at, v) in [
            (0, MAGIC_START0),
            (4, MAGIC_START1),
            (8, FLAG_FAMILY_ID_PRESENT),
            (12, *addr),
            (16, PAYLOAD_LEN as u32),
            (20, i as u32),
            (24, pages.len() as u32),
            (28, RP2040_FAMILY_ID),
            (508, MAGIC_END),
        ] {
            block[at..at + 4].copy_from_slice(&v.to_le_bytes());
        }
        block[32..32 + PAYLOAD_LEN].copy_from_slice(data);
        out.extend_from_slice(&block);
    }
    out
}

/// The flash pages of an ELF32 little-endian ARM executable: every `PT_LOAD` segment with file
/// bytes, placed at its physical (load) address, which must lie in the RP2040's flash. Bytes of
/// a page no segment covers are 0.
pub fn elf_pages(elf: &[u8]) -> Result<Vec<(u32, [u8; PAYLOAD_LEN])>, Uf2Error> {
    let get = |at: usize, n: usize| elf.get(at..at + n).ok_or(Uf2Error::Elf("file is truncated"));
    let u16_at = |at: usize| get(at, 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u32_le = |at: usize| get(at, 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    if get(0, 4)? != b"\x7fELF" {
        return Err(Uf2Error::Elf("no ELF magic"));
    }
    if get(4, 2)? != [1, 1] {
        return Err(Uf2Error::Elf("not 32-bit little-endian"));
    }
    if u16_at(18)? != 40 {
        return Err(Uf2Error::Elf("not an ARM executable (e_machine is not 40)"));
    }
    let (phoff, phentsize, phnum) = (u32_le(28)? as usize, u16_at(42)? as usize, u16_at(44)? as usize);
    if phentsize < 32 {
        return Err(Uf2Error::Elf("program header entries are too small"));
    }
    let mut pages: std::collections::BTreeMap<u32, [u8; PAYLOAD_LEN]> = Default::default();
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        let (p_type, p_offset, p_paddr, p_filesz) = (u32_le(ph)?, u32_le(ph + 4)? as usize, u32_le(ph + 12)?, u32_le(ph + 16)? as usize);
        const PT_LOAD: u32 = 1;
        if p_type != PT_LOAD || p_filesz == 0 {
            continue;
        }
        let end = p_paddr.checked_add(p_filesz as u32).ok_or(Uf2Error::Elf("a segment wraps the address space"))?;
        if p_paddr < FLASH_START || end > FLASH_START + FLASH_MAX_LEN {
            return Err(Uf2Error::Elf("a loadable segment lies outside the RP2040's flash (check memory.x)"));
        }
        let bytes = get(p_offset, p_filesz)?;
        for (k, &b) in bytes.iter().enumerate() {
            let addr = p_paddr + k as u32;
            let page = addr & !(PAYLOAD_LEN as u32 - 1);
            pages.entry(page).or_insert([0u8; PAYLOAD_LEN])[(addr - page) as usize] = b;
        }
    }
    if pages.is_empty() {
        return Err(Uf2Error::Elf("no loadable segment with bytes"));
    }
    Ok(pages.into_iter().collect())
}

/// An ELF file as a UF2 file.
pub fn elf_to_uf2(elf: &[u8]) -> Result<Vec<u8>, Uf2Error> {
    Ok(encode(&elf_pages(elf)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(fill: u8) -> [u8; PAYLOAD_LEN] {
        [fill; PAYLOAD_LEN]
    }

    #[test]
    fn a_block_is_laid_out_as_the_uf2_spec_says() {
        let file = encode(&[(0x1000_0100, page(0xAB))]);
        assert_eq!(file.len(), 512);
        assert_eq!(&file[0..8], &[0x55, 0x46, 0x32, 0x0A, 0x57, 0x51, 0x5D, 0x9E]);
        assert_eq!(&file[8..12], &[0x00, 0x20, 0x00, 0x00]); // family id present
        assert_eq!(&file[12..16], &[0x00, 0x01, 0x00, 0x10]); // 0x10000100
        assert_eq!(&file[16..20], &[0x00, 0x01, 0x00, 0x00]); // 256 bytes
        assert_eq!(&file[20..28], &[0, 0, 0, 0, 1, 0, 0, 0]); // block 0 of 1
        assert_eq!(&file[28..32], &[0x56, 0xFF, 0x8B, 0xE4]);
        assert_eq!(file[32], 0xAB);
        assert_eq!(file[32 + 255], 0xAB);
        assert_eq!(file[32 + 256], 0);
        assert_eq!(&file[508..512], &[0x30, 0x6F, 0xB1, 0x0A]);
        assert_eq!(Image::parse(&file).unwrap().pages, vec![(0x1000_0100, page(0xAB))]);
    }

    #[test]
    fn damaged_or_foreign_files_are_refused_with_the_block_named() {
        let good = encode(&[(0x1000_0000, page(1)), (0x1000_0100, page(2))]);
        assert_eq!(Image::parse(&good[..700]), Err(Uf2Error::Length { len: 700 }));
        assert_eq!(Image::parse(&[]), Err(Uf2Error::Length { len: 0 }));
        let mut bad = good.clone();
        bad[512 + 509] ^= 1;
        assert_eq!(Image::parse(&bad), Err(Uf2Error::Magic { block: 1 }));
        let mut other = good.clone();
        other[512 + 28..512 + 32].copy_from_slice(&0xADA5_2840u32.to_le_bytes()); // nRF52840
        assert_eq!(Image::parse(&other), Err(Uf2Error::Family { block: 1, found: Some(0xADA5_2840) }));
        // Block 0 alone still says "of 2": a truncated file.
        assert_eq!(Image::parse(&good[..512]), Err(Uf2Error::Numbering { block: 0, said: 0, total: 2 }));
        let ram = encode(&[(0x2000_0000, page(1))]);
        assert_eq!(Image::parse(&ram), Err(Uf2Error::Address { block: 0, addr: 0x2000_0000, size: 256 }));
        assert!(Uf2Error::Family { block: 1, found: Some(0xADA5_2840) }.to_string().contains("0xe48bff56"));
    }

    #[test]
    fn the_version_tag_is_found_even_across_a_page_boundary() {
        let mut a = page(0);
        let mut b = page(0);
        let mut tagged = FW_TAG.to_vec();
        tagged.extend_from_slice(&[1, 4, 2]);
        a[250..].copy_from_slice(&tagged[..6]);
        b[..13].copy_from_slice(&tagged[6..]);
        // Pages out of address order in the file still join in address order.
        let img = Image::parse(&encode(&[(0x1000_0100, b), (0x1000_0000, a)])).unwrap();
        assert_eq!(img.fw_version(), Some((1, 4, 2)));
        assert_eq!(Image::parse(&encode(&[(0x1000_0000, page(7))])).unwrap().fw_version(), None);
    }

    /// A hand-built ELF32 ARM file with two PT_LOAD segments (one in flash, one with no file
    /// bytes, like .bss) and one PT_NOTE.
    fn tiny_elf() -> Vec<u8> {
        let mut elf = vec![0u8; 52 + 3 * 32];
        elf[..4].copy_from_slice(b"\x7fELF");
        elf[4] = 1; // 32-bit
        elf[5] = 1; // little-endian
        elf[18..20].copy_from_slice(&40u16.to_le_bytes()); // ARM
        elf[28..32].copy_from_slice(&52u32.to_le_bytes()); // phoff
        elf[42..44].copy_from_slice(&32u16.to_le_bytes());
        elf[44..46].copy_from_slice(&3u16.to_le_bytes());
        let data_at = elf.len() as u32;
        let segs: [(u32, u32, u32, u32); 3] = [(1, data_at, 0x1000_00FE, 4), (1, 0, 0x2000_0000, 0), (4, 0, 0, 0)];
        for (i, (t, off, paddr, filesz)) in segs.iter().enumerate() {
            let ph = 52 + i * 32;
            elf[ph..ph + 4].copy_from_slice(&t.to_le_bytes());
            elf[ph + 4..ph + 8].copy_from_slice(&off.to_le_bytes());
            elf[ph + 12..ph + 16].copy_from_slice(&paddr.to_le_bytes());
            elf[ph + 16..ph + 20].copy_from_slice(&filesz.to_le_bytes());
        }
        elf.extend_from_slice(&[0xDE, 0xAD, 0xBE, 0xEF]);
        elf
    }

    #[test]
    fn elf_segments_land_on_their_pages_and_straddle_into_the_next() {
        let pages = elf_pages(&tiny_elf()).unwrap();
        assert_eq!(pages.len(), 2);
        assert_eq!(pages[0].0, 0x1000_0000);
        assert_eq!(&pages[0].1[254..], &[0xDE, 0xAD]);
        assert_eq!(pages[1].0, 0x1000_0100);
        assert_eq!(&pages[1].1[..3], &[0xBE, 0xEF, 0]);
        let img = Image::parse(&elf_to_uf2(&tiny_elf()).unwrap()).unwrap();
        assert_eq!(img.pages, pages);
        assert_eq!(img.flash_bytes(), 512);
    }

    #[test]
    fn bad_elf_files_are_refused() {
        assert_eq!(elf_pages(b"MZ\x90\x00"), Err(Uf2Error::Elf("no ELF magic")));
        let mut elf = tiny_elf();
        elf[18] = 62; // x86-64
        assert_eq!(elf_pages(&elf), Err(Uf2Error::Elf("not an ARM executable (e_machine is not 40)")));
        let elf = tiny_elf();
        assert_eq!(elf_pages(&elf[..60]), Err(Uf2Error::Elf("file is truncated")));
    }
}
