#!/usr/bin/env bash
# Build storehub for the store boxes on this (x86_64 Debian) machine, and run its aarch64 tests
# under qemu-user.
#
#   scripts/cross-build.sh                         release binaries for aarch64 and armv7
#   scripts/cross-build.sh --target aarch64        one target (aarch64, armv7 or all)
#   scripts/cross-build.sh --target aarch64 --tests
#                                                  the store, domain, crash, power-cut and recover
#                                                  tests, built for aarch64, run under qemu-aarch64
#
# The route (DEVELOPERS.md says what was tried): rustup here has only the x86_64 standard library
# and cannot download others, so the build uses Debian's Rust: /usr/bin/cargo and /usr/bin/rustc
# (packages cargo-web, rustc-web) with Debian's standard library for the target
# (libstd-rust-web-dev:arm64 / :armhf, the same version as rustc-web), linked and C-compiled
# (ring) by Debian's cross gcc (gcc-aarch64-linux-gnu, gcc-arm-linux-gnueabihf). When apt cannot
# supply the target's standard library at rustc-web's exact version (seen for armhf: a mirror
# whose bookworm-security armhf index did not match its Release file), the standard library is
# compiled from rust-web-src instead (-Zbuild-std, as scripts/build-firmware.sh does).
# Whatever is missing is installed with apt-get first (foreign dpkg architecture included; sudo
# when not root); an architecture this script added is removed again when apt cannot use it, so
# `apt-get update` keeps working for everything else.
#
# --release (the default) leaves each stripped binary at $CARGO_TARGET_DIR/<triple>/release/storehub
# (target/ when CARGO_TARGET_DIR is unset; scripts/package-deb.sh --target packages it from there),
# its debug info beside it in storehub.debug (linked with .gnu_debuglink), prints the sizes and
# warns when a stripped binary is over the 10 MiB budget. --tests sets the qemu runner for cargo and
# STOREHUB_TEST_RUNNER for the tests that spawn the storehub binary (tests/common/mod.rs
# storehub_command: binfmt_misc is not registered in every container, so the kernel cannot start
# a foreign binary by itself). scripts/test.sh runs `--target aarch64 --tests`.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

SIZE_LIMIT=$((10 * 1024 * 1024))
# rust-version in Cargo.toml.
MIN_RUST="$(sed -n 's/^rust-version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)"
TARGET_ROOT="${CARGO_TARGET_DIR:-target}"

usage() {
    sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
}

targets=()
mode=release
while (($# > 0)); do
    case "$1" in
    --target)
        (($# >= 2)) || die "--target needs a value: aarch64, armv7 or all"
        targets+=("$2")
        shift 2
        ;;
    --target=*)
        targets+=("${1#--target=}")
        shift
        ;;
    --release) mode=release; shift ;;
    --tests) mode=tests; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage; die "unknown argument '$1'; see the usage above" ;;
    esac
done
((${#targets[@]} > 0)) || targets=(all)
expanded=()
for t in "${targets[@]}"; do
    case "$t" in
    all) expanded+=(aarch64 armv7) ;;
    aarch64 | armv7) expanded+=("$t") ;;
    *) die "--target '$t' is not one this script builds: use aarch64, armv7 or all" ;;
    esac
done
targets=("${expanded[@]}")
if [[ "$mode" == tests ]]; then
    for t in "${targets[@]}"; do
        [[ "$t" == aarch64 ]] || die "--tests runs for aarch64 only (armv7 is built, not tested): use --target aarch64 --tests"
    done
fi

# Per-target facts: Rust triple, Debian architecture, GNU tool prefix, qemu-user program.
target_facts() {
    case "$1" in
    aarch64) TRIPLE=aarch64-unknown-linux-gnu DEB_ARCH=arm64 GNU=aarch64-linux-gnu QEMU=qemu-aarch64-static ;;
    armv7) TRIPLE=armv7-unknown-linux-gnueabihf DEB_ARCH=armhf GNU=arm-linux-gnueabihf QEMU=qemu-arm-static ;;
    esac
    CROSS_PACKAGES=(
        "gcc-$GNU"                     # the linker, and the C compiler for ring
        "libc6-dev-$DEB_ARCH-cross"    # the target's C library to link against
        "binutils-$GNU"                # strip and objcopy for the target
    )
}

# Installed version of a Debian package ('' when it is not installed).
installed_version() {
    apt_package_installed "$1" || return 0
    dpkg-query -W -f='${Version}' "$1"
}

# Run apt-get as root (sudo when not root); its output goes to stderr.
apt_root() {
    local sudo=()
    ((EUID == 0)) || sudo=(sudo)
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "$@" >&2
}

# Debian's rustc-web, cargo-web and rust-web-src, at a version no older than rust-version. An
# older installed one (Debian 12's main suite has 1.85; bookworm-security has newer) is upgraded,
# rust-web-src with it so scripts/build-firmware.sh keeps a matching library source.
ensure_debian_rust() {
    ensure_apt_packages rustc-web cargo-web rust-web-src
    local have
    have="$(/usr/bin/rustc --version | awk '{print $2}')"
    if [[ "$(printf '%s\n%s\n' "$MIN_RUST" "$have" | sort -V | head -n 1)" != "$MIN_RUST" ]]; then
        say "Debian's rustc is $have, storehub needs $MIN_RUST or newer: upgrading rustc-web, cargo-web and rust-web-src"
        apt_root update -q || die "apt-get update failed; check the network and /etc/apt/sources.list (bookworm-security must be there: it carries the newer rustc-web), then run again"
        apt_root install -y -q --no-install-recommends rustc-web cargo-web rust-web-src \
            || die "could not upgrade rustc-web (see above)"
        have="$(/usr/bin/rustc --version | awk '{print $2}')"
        [[ "$(printf '%s\n%s\n' "$MIN_RUST" "$have" | sort -V | head -n 1)" == "$MIN_RUST" ]] \
            || die "apt offers rustc-web $have only, storehub needs $MIN_RUST: add bookworm-security to /etc/apt/sources.list (DEVELOPERS.md), run apt-get update and run again"
    fi
    RUST_WEB_VERSION="$(installed_version rustc-web)"
}

# Make dpkg accept packages of architecture $1. Sets ADDED_ARCH=1 when this run added it.
ADDED_ARCH=0
ensure_foreign_arch() {
    ADDED_ARCH=0
    dpkg --print-foreign-architectures | grep -qx "$1" && return 0
    say "adding the dpkg architecture $1 (for the target's standard library)"
    local sudo=()
    ((EUID == 0)) || sudo=(sudo)
    "${sudo[@]}" dpkg --add-architecture "$1" || die "dpkg --add-architecture $1 failed"
    ADDED_ARCH=1
}

drop_foreign_arch() {
    local sudo=()
    ((EUID == 0)) || sudo=(sudo)
    say "removing the dpkg architecture $1 again, so that apt-get update keeps working"
    "${sudo[@]}" dpkg --remove-architecture "$1" || die "dpkg --remove-architecture $1 failed: run it by hand, then apt-get update"
    apt_root update -q || die "apt-get update failed even without $1; check /etc/apt/sources.list"
}

# Debian's standard library for the target at rustc-web's exact version: sets BUILD_STD=0 when it
# is installed (or now installed), 1 when it cannot be had and std must be built from source.
ensure_target_std() {
    local pkg="libstd-rust-web-dev:$DEB_ARCH"
    BUILD_STD=0
    [[ "$(installed_version "$pkg")" == "$RUST_WEB_VERSION" ]] && return 0
    ensure_foreign_arch "$DEB_ARCH"
    local ok=1
    if ! apt_root update -q; then
        say "apt-get update failed with the $DEB_ARCH architecture added (a mirror's $DEB_ARCH index did not download; see above)"
        ok=0
    elif ! apt_root install -y -q --no-install-recommends "$pkg=$RUST_WEB_VERSION"; then
        say "apt could not install $pkg=$RUST_WEB_VERSION (rustc-web's version)"
        ok=0
    fi
    if ((ok == 0)); then
        ((ADDED_ARCH == 0)) || drop_foreign_arch "$DEB_ARCH"
        say "building the $TRIPLE standard library from rust-web-src instead (-Zbuild-std)"
        BUILD_STD=1
    fi
    return 0
}

# The environment cargo needs for $TRIPLE, as `env` arguments in CARGO_ENV.
cross_env() {
    local up="${TRIPLE//-/_}"
    local UP="${up^^}"
    CARGO_ENV=(
        PATH="/usr/bin:$PATH" # build scripts that call cargo or rustc get Debian's
        RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc
        "CARGO_TARGET_${UP}_LINKER=$GNU-gcc"
        "CC_${up}=$GNU-gcc" "AR_${up}=$GNU-ar"
        PKG_CONFIG_ALLOW_CROSS=1
        "PKG_CONFIG_LIBDIR=/usr/lib/$GNU/pkgconfig:/usr/share/pkgconfig"
    )
    CARGO_FLAGS=(--locked --target "$TRIPLE")
    if ((BUILD_STD == 1)); then
        CARGO_ENV+=(RUSTC_BOOTSTRAP=1)
        CARGO_FLAGS+=(-Zbuild-std=std,panic_abort)
    fi
    if [[ "$mode" == tests ]]; then
        CARGO_ENV+=("CARGO_TARGET_${UP}_RUNNER=$QEMU" "STOREHUB_TEST_RUNNER=$QEMU")
        # Under emulation the power-cut writer acknowledges far fewer writes per round, so 20 cuts
        # did not always include a torn write that kept bytes (the test's own check that its fault
        # injection bit; seen once in two runs on 2026-11-26): give it 40 cuts.
        CARGO_ENV+=("STOREHUB_POWERCUT_ROUNDS=${STOREHUB_POWERCUT_ROUNDS:-40}")
    fi
}

mib() {
    printf '%d.%02d MiB' $(($1 / 1048576)) $(($1 % 1048576 * 100 / 1048576))
}

ensure_cargo
ensure_debian_rust
for t in "${targets[@]}"; do
    target_facts "$t"
    packages=("${CROSS_PACKAGES[@]}")
    # qemu-user-static runs the tests; libc6:arm64 is the dynamic loader and C library they load.
    [[ "$mode" == tests ]] && packages+=(qemu-user-static)
    ensure_apt_packages "${packages[@]}"
    ensure_target_std
    [[ "$mode" == tests ]] && { apt_package_installed "libc6:$DEB_ARCH" || ensure_apt_packages "libc6:$DEB_ARCH"; }
    cross_env
    say "$TRIPLE with Debian's $(/usr/bin/rustc --version) ($([[ $BUILD_STD == 1 ]] && echo "std built from rust-web-src" || echo "libstd-rust-web-dev:$DEB_ARCH"))"

    if [[ "$mode" == tests ]]; then
        start=$SECONDS
        # One build of every test binary first, so cargo compiles the library's test harness and
        # the library the integration tests link side by side.
        env "${CARGO_ENV[@]}" /usr/bin/cargo test "${CARGO_FLAGS[@]}" --no-run \
            --lib --test store --test crash --test powercut --test recover \
            || die "the $TRIPLE tests did not build (see above)"
        say "$TRIPLE tests built in $((SECONDS - start)) s"
        say "aarch64 library tests (store::, domain::) under $QEMU"
        env "${CARGO_ENV[@]}" /usr/bin/cargo test "${CARGO_FLAGS[@]}" --lib -- store:: domain:: \
            || die "the $TRIPLE library tests failed under $QEMU (see above)"
        say "aarch64 store, crash, power-cut and recover tests under $QEMU"
        env "${CARGO_ENV[@]}" /usr/bin/cargo test "${CARGO_FLAGS[@]}" \
            --test store --test crash --test powercut --test recover \
            || die "the $TRIPLE integration tests failed under $QEMU (see above)"
        say "$TRIPLE tests passed under $QEMU in $((SECONDS - start)) s"
        continue
    fi

    start=$SECONDS
    env "${CARGO_ENV[@]}" /usr/bin/cargo build "${CARGO_FLAGS[@]}" --release --bin storehub \
        || die "the $TRIPLE build failed (see above); DEVELOPERS.md lists the packages and what is known to fail"
    bin="$TARGET_ROOT/$TRIPLE/release/storehub"
    [[ -f "$bin" ]] || die "cargo said the build finished but $bin is not there"
    # Keep the debug info (line tables from profile.release debug = 1) out of the shipped file but
    # beside it, for symbolising a box's backtraces. A binary stripped by an earlier run has no
    # .debug_line left and keeps the storehub.debug from that run.
    if "$GNU-readelf" -S "$bin" | grep -q '\.debug_line'; then
        "$GNU-objcopy" --only-keep-debug "$bin" "$bin.debug"
        "$GNU-strip" --strip-all "$bin"
        "$GNU-objcopy" --add-gnu-debuglink="$bin.debug" "$bin"
    else
        "$GNU-strip" --strip-all "$bin"
    fi
    size="$(stat -c %s "$bin")"
    printf '%s: %s stripped, %d bytes (%s, limit 10 MiB), built in %d s\n' \
        "$TRIPLE" "$bin" "$size" "$(mib "$size")" $((SECONDS - start))
    if ((size > SIZE_LIMIT)); then
        # Reported, not a failure: the binary is still the one to ship until the release profile
        # is changed with measured numbers (docs/benchmarks.md).
        say "warning: $bin is $(mib "$size") stripped, over the 10 MiB budget of issue 13: docs/benchmarks.md (Builds for the box) says what it is made of"
    fi
done
