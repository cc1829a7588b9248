#!/usr/bin/env bash
# Run every storehub test: the firmware workspace, the RP2040 firmware build (which fails the run
# when the image does not build or outgrows 64 KiB flash / 16 KiB static RAM), then the hub; with
# STOREHUB_CROSS=1 also the store, domain, crash, power-cut and recover tests for aarch64 under
# qemu-user (scripts/cross-build.sh --target aarch64 --tests; DEVELOPERS.md says why it is a
# second command for now).
#
#   scripts/test.sh                 all tests
#   scripts/test.sh barcode         extra arguments go to the test runner (here a name filter)
#
# On a fresh Debian / Raspberry Pi OS machine with Rust installed it first installs, with apt-get,
# whatever the tests need and is missing (saying so on stderr; sudo when not root):
# the C toolchain and pkg-config, Mosquitto (the MQTT tests start their own broker on a free
# loopback port), Chromium with chromedriver and a small CJK font (the browser tests drive it
# headless and save screenshots) and fuse3 (the power-cut test
# mounts its own FUSE filesystem; it needs /dev/fuse, and fusermount3 when not run as root;
# tests/web_metrics.rs and tests/watchdog.rs mount a 64 MiB tmpfs, which needs root), dpkg-dev
# and cargo-deb (cargo install --locked, ~1 minute once) for tests/package_deb.rs, which installs
# the .deb on this machine as root and purges it again; python3 and libsodium23, with which
# tests/pairing.rs seals the broker password as HQ would;
# scripts/build-firmware.sh adds Debian's Rust for the RP2040 (rustc-web, cargo-web, rust-web-src)
# and lld.
#
# The hub tests run under cargo-nextest when it is installed (each test in its own process, which
# the crash and pseudo-terminal tests rely on), else under `cargo test`. nextest does not run
# doctests, so when it is used and no extra arguments are given, `cargo test --doc` runs after it.
#
# Environment:
#   STOREHUB_SOAK=1   also run the slow soak tests (long crash/kill loops, 100 power cuts, the
#                     sled-alone power-cut measurement, outage cycles); they are skipped by
#                     default so a normal run stays a few minutes.
#   STOREHUB_LOG      log level for the daemon started by integration tests (e.g. debug).
#   STOREHUB_CROSS=1  also run the aarch64 tests under qemu-user (scripts/cross-build.sh --tests).
#
# Exit code: that of the tests (0 when all pass).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

# Everything the tests need from Debian. Extend this list when a test needs a new program.
TEST_PACKAGES=(
    "${STOREHUB_BUILD_PACKAGES[@]}"
    mosquitto         # real broker for the MQTT relay tests
    mosquitto-clients # mosquitto_sub / mosquitto_pub, to watch and inject topics
    chromium          # headless browser for the dashboard and cashier page tests
    chromium-driver   # chromedriver: the WebDriver server the browser tests drive chromium through
    fonts-wqy-microhei # a small CJK font, so the screenshots of zh-CN pages are readable
    fuse3             # fusermount3: mounts the power-cut test's FUSE filesystem when not root
    dpkg-dev          # cargo-deb's $auto dependencies, for tests/package_deb.rs
    python3           # with libsodium23: HQ's side of the sealed pairing password (tests/pairing.rs)
    libsodium23       # libsodium's crypto_box_seal, the reference the box's crypto_box must open
)

ensure_apt_packages "${TEST_PACKAGES[@]}"
ensure_cargo
# tests/package_deb.rs builds the .deb with it (scripts/package-deb.sh pins the same version).
ensure_cargo_tool cargo-deb 3.8.0

say "testing the firmware wire protocol (firmware/)"
cargo test --manifest-path firmware/Cargo.toml
say "building the RP2040 shelf-node firmware (scripts/build-firmware.sh)"
bash scripts/build-firmware.sh

# The store, domain, crash, power-cut and recover tests built for aarch64 and run under
# qemu-user (DEVELOPERS.md). Before the hub tests, so the run's closing line stays nextest's.
# Only with STOREHUB_CROSS=1, and not in a filtered run (extra arguments).
rc=0
if (($# == 0)) && [[ "${STOREHUB_CROSS:-0}" == 1 ]]; then
    say "testing for aarch64 under qemu-user (scripts/cross-build.sh --target aarch64 --tests)"
    bash scripts/cross-build.sh --target aarch64 --tests || rc=$?
fi

if cargo nextest --version >/dev/null 2>&1; then
    if (($# == 0)); then
        # Before nextest, so the run's closing line is nextest's summary of the real tests.
        say "running the hub's doctests (nextest does not run them)"
        cargo test --workspace --doc || rc=$?
    fi
    say "testing the hub with cargo-nextest"
    # --no-tests=warn: a filter that matches nothing (or a crate with no tests yet) is not a failure.
    cargo nextest run --workspace --no-fail-fast --no-tests=warn "$@" || { nx=$?; ((rc != 0)) || rc=$nx; }
else
    say "cargo-nextest not found; testing the hub with cargo test (install it with: cargo install --locked cargo-nextest)"
    cargo test --workspace "$@" || rc=$?
fi

if ((rc == 0)); then
    say "all tests passed"
else
    say "tests failed (exit code $rc)"
fi
exit "$rc"
