//! The storehub shelf-sensor node firmware for a Raspberry Pi Pico (RP2040): the board around
//! node-core's [`Node`]. It owns the hardware only: clocks, the watchdog, USB CDC serial to the
//! hub, the HX711 pins (hx711_gpio.rs), the calibration flash (flash.rs) and the LED; every
//! decision (filtering, stability, calibration, commands, acks, heartbeats) is node-core's, the
//! same code the host simulator runs.
//!
//! At boot it reads the flash unique id (the node id and USB serial number), watches the HX711
//! DOUT lines for a second to count the fitted channels, loads the calibrations and starts USB.
//! The main loop, never blocking: feed the watchdog; poll USB and hand received bytes to the
//! node; read each HX711 that has a conversion ready; let the node emit due frames; move queued
//! frames (outq.rs, bounded, drop-and-count) into the CDC port; show `led_on`. A reboot or
//! enter-bootloader command is carried out once its ack has left (or after 250 ms).
//! Counters a debugger can read: `DROPPED_FRAMES`, `OVERLONG_READS`.
#![no_std]
#![no_main]

mod board;
mod flash;
mod hx711_gpio;
mod outq;

use core::sync::atomic::{AtomicU32, Ordering};

use embedded_hal::digital::OutputPin;
use panic_halt as _;
use rp2040_hal as hal;
use hal::fugit::ExtU32;
use hal::pac;
use hal::usb::UsbBus;
use hal::{Timer, Watchdog};
use storehub_node_core::flash::Store;
use storehub_node_core::node::{Effect, Node, NodeConfig};
use storehub_wire::FwVersion;
use usb_device::class_prelude::UsbBusAllocator;
use usb_device::device::{StringDescriptors, UsbDeviceBuilder, UsbDeviceState, UsbVidPid};
use usbd_serial::SerialPort;

/// The second-stage bootloader the boot ROM runs from the first 256 bytes of flash (memory.x).
#[link_section = ".boot2"]
#[used]
pub static BOOT2: [u8; 256] = rp2040_boot2::BOOT_LOADER_GENERIC_03H;

/// `storehub_uf2::FW_TAG` and this crate's version, found in the UF2 by `Image::fw_version`.
/// Read back (volatile) for the hello, so the version the node announces is the one the image is
/// tagged with, and the linker cannot drop it.
#[used]
static FW_VERSION_TAG: [u8; 19] = board::version_tag(
    env!("CARGO_PKG_VERSION_MAJOR"),
    env!("CARGO_PKG_VERSION_MINOR"),
    env!("CARGO_PKG_VERSION_PATCH"),
);

// hx711_gpio.rs hands the HX711 pins out by number: they must be distinct and not the board's.
const _: () = assert!(board::pins_are_distinct(), "board::HX711_PINS reuses a pin or takes one of the board's own");
// The LED is taken as the typed `gpio25` below.
const _: () = assert!(board::LED_PIN == 25, "main.rs takes the LED as pins.gpio25: change both together");

/// Frames dropped because the host was not reading (queue full or port closed).
#[no_mangle]
pub static DROPPED_FRAMES: AtomicU32 = AtomicU32::new(0);
/// HX711 reads thrown away because PD_SCK stayed high past the limit.
#[no_mangle]
pub static OVERLONG_READS: AtomicU32 = AtomicU32::new(0);

/// The watchdog period: the main loop turns in well under a millisecond; one flash erase (at most
/// 400 ms) is the longest step, and flash.rs feeds the watchdog before each.
const WATCHDOG_MS: u32 = 500;
/// How long an ack may take to leave before a reboot / bootloader entry goes ahead anyway.
const EFFECT_FLUSH_MS: u64 = 250;
/// Bytes of frames waiting for the USB port (about 30 readings).
const OUT_QUEUE_BYTES: usize = 1024;

fn fw_version() -> FwVersion {
    // SAFETY: a plain read of an initialised static; volatile only to keep it in the image.
    let tag = unsafe { core::ptr::read_volatile(&FW_VERSION_TAG) };
    FwVersion { major: tag[16], minor: tag[17], patch: tag[18] }
}

#[hal::entry]
fn main() -> ! {
    // `take` only fails on a second call; there is none.
    let Some(mut pac) = pac::Peripherals::take() else { halt() };
    let mut watchdog = Watchdog::new(pac.WATCHDOG);
    let Ok(clocks) = hal::clocks::init_clocks_and_plls(
        board::XTAL_FREQ_HZ,
        pac.XOSC,
        pac.CLOCKS,
        pac.PLL_SYS,
        pac.PLL_USB,
        &mut pac.RESETS,
        &mut watchdog,
    ) else {
        // No crystal or PLL lock: nothing can run; the watchdog (not yet started) cannot help,
        // so reset by hand and try again.
        cortex_m::peripheral::SCB::sys_reset()
    };
    let timer = Timer::new(pac.TIMER, &mut pac.RESETS, &clocks);

    // GPIO: the LED is taken from the typed pins; the rest of them are dropped at the end of
    // this block, so the HX711 pins' only handles are the ones hx711_gpio.rs makes.
    let sio = hal::Sio::new(pac.SIO);
    let mut led = {
        let pins = hal::gpio::Pins::new(pac.IO_BANK0, pac.PADS_BANK0, sio.gpio_bank0, &mut pac.RESETS);
        pins.gpio25.into_push_pull_output()
    };
    let mut scales = hx711_gpio::Hx711Channels::new();

    // The node id and USB serial number come from the flash chip; read before USB starts.
    let node_id = flash::unique_id();
    let serial_hex = board::hex_id(node_id);
    let serial_str = core::str::from_utf8(&serial_hex).unwrap_or("0000000000000000");

    // A core halted by a debugger (SWD) must not be reset under it.
    watchdog.pause_on_debug(true);
    watchdog.start(WATCHDOG_MS.millis());
    let watchdog = watchdog; // shared from here on: `feed` takes &self
    let channels = scales.detect(&timer, &watchdog);
    let store = Store::new(flash::RpFlash::new(&watchdog), 0);
    let config = NodeConfig { node_id, fw_version: fw_version(), channels };
    let mut node = Node::new(config, store);

    let usb_bus = UsbBusAllocator::new(UsbBus::new(
        pac.USBCTRL_REGS,
        pac.USBCTRL_DPRAM,
        clocks.usb_clock,
        true,
        &mut pac.RESETS,
    ));
    let mut serial = SerialPort::new(&usb_bus);
    let strings = [StringDescriptors::default()
        .manufacturer("storehub")
        .product("storehub shelf node")
        .serial_number(serial_str)];
    // `strings` only fails for more than 16 languages; there is one.
    let Ok(builder) = UsbDeviceBuilder::new(&usb_bus, UsbVidPid(storehub_wire::USB_VID, storehub_wire::USB_PID))
        .strings(&strings)
    else {
        halt()
    };
    let mut usb = builder.device_class(usbd_serial::USB_CLASS_CDC).build();

    let mut queue = outq::FrameQueue::<OUT_QUEUE_BYTES>::new();
    let now_ms = |timer: &Timer| timer.get_counter().ticks() / 1000;
    node.start(now_ms(&timer), &mut |frame| {
        queue.push(frame);
    });

    // An effect waiting for its ack to leave, and when it was asked for.
    let mut pending: Option<(Effect, u64)> = None;
    let mut rx = [0u8; 64];
    loop {
        watchdog.feed();
        let now = now_ms(&timer);

        if usb.poll(&mut [&mut serial]) {
            if let Ok(n) = serial.read(&mut rx) {
                let effect = node.on_bytes(&rx[..n], now, &mut |frame| {
                    queue.push(frame);
                });
                if let (Some(e), None) = (effect, pending) {
                    pending = Some((e, now));
                }
            }
        }

        for ch in 0..usize::from(channels) {
            if let Some(raw) = scales.read(ch, &timer) {
                node.on_sample(ch as u8, raw, now);
            }
        }
        node.poll(now, &mut |frame| {
            queue.push(frame);
        });

        // Nobody listening (unplugged, or the hub closed the port, which drops DTR): keep no
        // stale frames; the hub asks for a hello when it opens the port.
        if usb.state() != UsbDeviceState::Configured || !serial.dtr() {
            queue.discard();
        }
        while !queue.is_empty() {
            match serial.write(queue.peek()) {
                Ok(n) if n > 0 => queue.consume(n),
                _ => break,
            }
        }
        let _ = serial.flush();
        DROPPED_FRAMES.store(queue.dropped(), Ordering::Relaxed);
        OVERLONG_READS.store(scales.overlong(), Ordering::Relaxed);

        let _ = led.set_state(node.led_on(now).into());

        if let Some((effect, asked)) = pending {
            let sent = queue.is_empty() && serial.flush().is_ok();
            if sent || now.saturating_sub(asked) >= EFFECT_FLUSH_MS {
                carry_out(effect, &timer);
            }
        }
    }
}

/// Reboots, or restarts into the boot ROM's USB mass-storage bootloader (RPI-RP2) for a UF2.
fn carry_out(effect: Effect, timer: &Timer) -> ! {
    // Let the last USB packet go out on the wire (the host polls the IN endpoint every frame).
    let since = timer.get_counter_low();
    while timer.get_counter_low().wrapping_sub(since) < 2_000 {}
    match effect {
        Effect::Reboot => cortex_m::peripheral::SCB::sys_reset(),
        Effect::EnterBootloader => {
            // Both the mass-storage and the PICOBOOT interfaces, no activity LED pin.
            hal::rom_data::reset_to_usb_boot(0, 0);
            // The ROM call does not return; if it ever did, a plain reset is the safe way out.
            cortex_m::peripheral::SCB::sys_reset()
        }
    }
}

/// Stops on a start-up fault that cannot happen on a working board; the watchdog (when started)
/// resets the node.
fn halt() -> ! {
    loop {
        cortex_m::asm::wfi();
    }
}
