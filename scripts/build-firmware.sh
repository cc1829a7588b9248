#!/usr/bin/env bash
# Build the shelf-node firmware (firmware/node-rp2040) for the RP2040 and turn it into a UF2 file.
#
#   scripts/build-firmware.sh              writes firmware/target/storehub-node.uf2
#   scripts/build-firmware.sh OUT.uf2      writes OUT.uf2 instead
#
# The route (firmware/README.md): rustup cannot fetch the thumbv6m-none-eabi target on these
# machines, so the image is built with Debian's Rust (rustc-web, cargo-web, rust-web-src: /usr/bin
# rustc and cargo, the library source under /usr/lib/rustlib/src) with RUSTC_BOOTSTRAP=1 and
# -Zbuild-std=core (set in firmware/node-rp2040/.cargo/config.toml), linked by lld's ld.lld.
# The missing Debian packages are installed first (apt-get; sudo when not root). The ELF becomes a
# UF2 with the storehub-uf2 tool of the firmware workspace, built with the normal (rustup) cargo.
#
# It prints the image's flash and static RAM use and FAILS (non-zero) when the build fails, when
# the image takes 64 KiB of flash or more or 16 KiB of static RAM or more, when a UF2 block lies
# in the calibration sectors (the last 8 KiB of the 2 MiB flash) or none at the start of flash
# (boot2), or when the UF2 does not carry
# the version in firmware/node-rp2040/Cargo.toml. scripts/test.sh runs it.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

FIRMWARE_PACKAGES=(
    rustc-web    # Debian's rustc, new enough for the firmware's crates; knows thumbv6m-none-eabi
    cargo-web    # the cargo that goes with it (-Zbuild-std with RUSTC_BOOTSTRAP=1)
    rust-web-src # the standard library's source, which -Zbuild-std=core compiles for thumbv6m
    lld          # ld.lld, the linker (Debian's /usr/bin/rust-lld link is dangling)
    binutils     # readelf, for the size report
)
FLASH_LIMIT=$((64 * 1024))
RAM_LIMIT=$((16 * 1024))
# The calibration store's two sectors start here (firmware/node-rp2040/src/board.rs, memory.x).
CALIBRATION_START=$((0x101FE000))

CRATE=firmware/node-rp2040
TARGET_DIR=firmware/target/rp2040
ELF="$TARGET_DIR/thumbv6m-none-eabi/release/storehub-node-rp2040"
OUT="${1:-firmware/target/storehub-node.uf2}"

ensure_apt_packages "${FIRMWARE_PACKAGES[@]}"
ensure_cargo
for tool in /usr/bin/cargo /usr/bin/rustc; do
    [[ -x "$tool" ]] || die "$tool is missing although cargo-web and rustc-web are installed; reinstall them: apt-get install --reinstall rustc-web cargo-web"
done
command -v ld.lld >/dev/null 2>&1 || die "ld.lld is not on PATH although lld is installed; reinstall it: apt-get install --reinstall lld"

say "building the RP2040 firmware ($CRATE) with Debian's $(/usr/bin/rustc --version)"
# In the crate's directory so its .cargo/config.toml (target, linker, build-std) applies; its
# own target dir under firmware/target (gitignored), whatever CARGO_TARGET_DIR says.
(
    cd "$CRATE"
    env PATH="/usr/bin:$PATH" RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1 \
        /usr/bin/cargo build --release --locked --target-dir ../target/rp2040
) || die "the firmware did not build (see above). If cargo says the lock file needs to be updated, a firmware crate gained a dependency: run 'cd $CRATE && PATH=/usr/bin:\$PATH RUSTC_BOOTSTRAP=1 cargo build --release' once and commit its Cargo.lock; firmware/README.md describes the toolchain"
[[ -f "$ELF" ]] || die "the build said it finished but $ELF is not there"

# Sizes from the ELF's section headers. Flash: every allocated section with contents (boot2,
# vector table, .text, .rodata, and .data's initial values, which are copied from flash to RAM
# at start-up). Static RAM: .data + .bss + .uninit (allocated sections at RAM addresses); the
# stack comes on top, at run time.
SECTIONS="$(readelf -SW "$ELF")" || die "readelf could not read the sections of $ELF"
FLASH_USED=0
RAM_USED=0
# Lines look like `  [ 3] .text  PROGBITS  100001c0 0201c0 000048 00  AX  0   0  4`.
while read -r _name type addr _off size _es flags _rest; do
    [[ "$flags" == *A* ]] || continue
    [[ "$type" == NOBITS ]] || FLASH_USED=$((FLASH_USED + 16#$size))
    ((16#$addr >= 0x20000000)) && RAM_USED=$((RAM_USED + 16#$size))
done < <(sed -n 's/^ *\[ *[0-9]*\] //p' <<<"$SECTIONS")
((FLASH_USED > 0)) || die "found no allocated sections in $ELF (readelf -SW output changed?)"

mkdir -p "$(dirname "$OUT")"
say "writing $OUT"
CHECK="$(cargo run --quiet --locked --manifest-path firmware/Cargo.toml -p storehub-uf2 -- "$ELF" "$OUT")" \
    || die "storehub-uf2 could not turn $ELF into $OUT (see above)"
printf '%s\n' "$CHECK"

# Every block's target address (the 4th little-endian u32 of each 512-byte block) + 256 bytes
# must end at or before the calibration sectors; the lowest must be the start of flash, where the
# boot ROM looks for boot2.
read -r UF2_START UF2_END < <(od -An -v --endian=little -t u4 -w512 "$OUT" | awk '
    NR == 1 || $4 < lo { lo = $4 }
    { e = $4 + 256; if (e > hi) hi = e }
    END { print lo + 0, hi + 0 }')
((UF2_END > 0)) || die "$OUT has no blocks"

VERSION="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$CRATE/Cargo.toml" | head -n 1)"
fail=0
printf 'firmware %s: flash %d bytes (%d.%d KiB, limit %d KiB), static RAM %d bytes (%d.%d KiB, limit %d KiB)\n' \
    "$VERSION" "$FLASH_USED" $((FLASH_USED / 1024)) $((FLASH_USED % 1024 * 10 / 1024)) $((FLASH_LIMIT / 1024)) \
    "$RAM_USED" $((RAM_USED / 1024)) $((RAM_USED % 1024 * 10 / 1024)) $((RAM_LIMIT / 1024))
printf 'UF2 blocks cover 0x%X..0x%X (boot2 at 0x10000000; calibration sectors start at 0x%X)\n' "$UF2_START" "$UF2_END" "$CALIBRATION_START"
if ((FLASH_USED >= FLASH_LIMIT)); then
    say "error: the firmware takes $FLASH_USED bytes of flash, the limit is $FLASH_LIMIT: shrink it (opt-level, dependencies) before shipping it"
    fail=1
fi
if ((RAM_USED >= RAM_LIMIT)); then
    say "error: the firmware takes $RAM_USED bytes of static RAM, the limit is $RAM_LIMIT: shrink its buffers"
    fail=1
fi
if ((UF2_END > CALIBRATION_START)); then
    say "error: $OUT writes flash up to $(printf '0x%X' "$UF2_END"), into the calibration sectors at $(printf '0x%X' "$CALIBRATION_START"): an update would erase the calibration; check memory.x"
    fail=1
fi
if ((UF2_START != 0x10000000)); then
    say "error: $OUT starts at $(printf '0x%X' "$UF2_START"), not at 0x10000000 where the boot ROM reads boot2: check memory.x and the BOOT2 static in main.rs"
    fail=1
fi
if [[ "$CHECK" != *"firmware $VERSION" ]]; then
    say "error: $OUT does not carry version $VERSION from $CRATE/Cargo.toml (storehub-uf2 said: $CHECK)"
    fail=1
fi
((fail == 0)) || exit 1
say "firmware $VERSION built: $OUT"
