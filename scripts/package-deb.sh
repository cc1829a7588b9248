#!/usr/bin/env bash
# Build the storehub .deb with cargo-deb (pinned; installed when missing). Prints the .deb's path
# on stdout; everything else goes to stderr. docs/packaging.md explains the package.
#
#   scripts/package-deb.sh                       release build for this machine (amd64 here), then package
#   scripts/package-deb.sh --no-build            package target/release/storehub as it is
#   scripts/package-deb.sh --target aarch64-unknown-linux-gnu
#   scripts/package-deb.sh --target armv7-unknown-linux-gnueabihf
#                                                package the binary scripts/cross-build.sh left in
#                                                target/<triple>/release/storehub (arm64 / armhf)
#   scripts/package-deb.sh --dev                 the dev-profile binary (what the tests build), for
#                                                tests/package_deb.rs: no release build, fast compression
#
# Options: --deb-version VERSION (default: Cargo.toml's version, revision 1), --output DIR
# (default: the target dir's debian/). CARGO_TARGET_DIR is honoured, as by cargo.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

# The cargo-deb every machine packages with (docs/dependencies.md).
CARGO_DEB_VERSION=3.8.0

usage() {
    sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

target="" build=1 dev=0 deb_version="" output=""
while (($#)); do
    case "$1" in
        --target) target="${2:?--target needs a triple, e.g. aarch64-unknown-linux-gnu}"; shift 2 ;;
        --no-build) build=0; shift ;;
        --dev) dev=1; shift ;;
        --deb-version) deb_version="${2:?--deb-version needs a version, e.g. 0.1.0-2}"; shift 2 ;;
        --output) output="${2:?--output needs a directory}"; shift 2 ;;
        -h | --help) usage ;;
        *) say "unknown option $1"; usage ;;
    esac
done

case "$target" in
    "" | aarch64-unknown-linux-gnu | armv7-unknown-linux-gnueabihf) ;;
    *) die "--target $target: the box's packages are built for aarch64-unknown-linux-gnu (arm64) and armv7-unknown-linux-gnueabihf (armhf), or leave it out for this machine" ;;
esac
if [[ -n "$target" && "$dev" == 1 ]]; then
    die "--dev packages this machine's dev-profile binary; leave out --target (or --dev for a box)"
fi

ensure_apt_packages dpkg-dev # dpkg-shlibdeps / dpkg-architecture, which cargo-deb uses for $auto
ensure_cargo
ensure_cargo_tool cargo-deb "$CARGO_DEB_VERSION"

target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
args=(--locked)
[[ -n "$deb_version" ]] && args+=(--deb-version "$deb_version")
[[ -n "$output" ]] && { mkdir -p "$output"; args+=(--output "$output"); }

if [[ "$dev" == 1 ]]; then
    # The tests' binary: same code, unoptimised. Good enough to check what dpkg does with the
    # package; never ship it (it is ~10x bigger and slower).
    if ((build)); then
        say "building the dev-profile binary (cargo build --bin storehub)"
        cargo build --locked --bin storehub >&2
    fi
    bin="$target_dir/debug/storehub"
    args+=(--no-build --profile dev --fast)
elif [[ -n "$target" ]]; then
    # Cross binaries come from scripts/cross-build.sh; cargo-deb only packages them.
    bin="$target_dir/$target/release/storehub"
    [[ -x "$bin" ]] || die "$bin does not exist: build it first with scripts/cross-build.sh (it leaves target/$target/release/storehub), then run this again"
    args+=(--no-build --target "$target")
    # Stripping a foreign binary needs that architecture's strip (binutils-aarch64-linux-gnu /
    # binutils-arm-linux-gnueabihf); without it the binary goes in as built.
    case "$target" in
        aarch64-*) strip_tool=aarch64-linux-gnu-strip ;;
        armv7-*) strip_tool=arm-linux-gnueabihf-strip ;;
    esac
    if ! command -v "$strip_tool" >/dev/null 2>&1; then
        say "$strip_tool not found: packaging $target's binary unstripped (apt-get install binutils-${strip_tool%-strip} to strip it)"
        args+=(--no-strip)
    else
        args+=(--strip)
    fi
else
    bin="$target_dir/release/storehub"
    if ((build)); then
        say "building the release binary (cargo build --release; from scratch it took 45 min on the shared 2-core build machine, 14 min of CPU)"
        cargo build --locked --release --bin storehub >&2
    fi
    [[ -x "$bin" ]] || die "$bin does not exist: build it with cargo build --release (or leave out --no-build)"
    # [profile.release] keeps line tables (debug = 1) for backtraces in development; the box
    # gets the stripped binary (cargo-deb would otherwise ship the ~200 MB unstripped one).
    args+=(--no-build --strip)
fi

say "packaging $bin (cargo deb ${args[*]})"
# cargo-deb prints the .deb's path as its last line on stdout.
deb="$(cargo deb "${args[@]}" | tail -n 1)"
[[ -f "$deb" ]] || die "cargo deb did not report a package file (it printed: $deb)"
say "built $deb ($(du -h "$deb" | cut -f1)); contents: dpkg-deb -c $deb"
printf '%s\n' "$deb"
