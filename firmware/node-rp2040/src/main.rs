#![no_std]
#![no_main]
use rp2040_hal as _; use panic_halt as _; use usb_device as _; use usbd_serial as _; use rp2040_flash as _; use storehub_node_core as _;
#[link_section = ".boot2"] #[used] pub static BOOT2: [u8; 256] = rp2040_boot2::BOOT_LOADER_GENERIC_03H;
#[cortex_m_rt::entry] fn main() -> ! { loop { cortex_m::asm::nop(); } }
