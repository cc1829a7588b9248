# shellcheck shell=bash
# Shared helpers for scripts/test.sh and scripts/demo.sh. Source it, don't run it.
#
# It owns three things: talking to the user on stderr, installing missing Debian packages (and only
# missing ones), and finding cargo. It never changes anything that is already present.

# Packages every build of the hub needs. Add the -dev packages of -sys crates here (libudev-dev
# once serialport/hidapi arrive) so that the demo and the tests both get them.
# shellcheck disable=SC2034  # used by the scripts that source this file
STOREHUB_BUILD_PACKAGES=(
    build-essential # cc and the linker, for crates that compile C
    pkg-config      # how -sys crates find the C libraries
)

# Print a message on stderr, prefixed so it stands out from cargo's output.
say() {
    printf 'storehub: %s\n' "$*" >&2
}

die() {
    say "error: $*"
    exit 1
}

# True when the Debian package is installed (not merely known, or removed with its config left).
apt_package_installed() {
    local status
    status="$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" || return 1
    [[ "$status" == "install ok installed" ]]
}

# ensure_apt_packages PKG...: install whichever of PKG are missing, saying so on stderr.
# `apt-get update` runs once, and only when something is missing. sudo only when not root.
ensure_apt_packages() {
    local missing=() pkg
    for pkg in "$@"; do
        apt_package_installed "$pkg" || missing+=("$pkg")
    done
    ((${#missing[@]} == 0)) && return 0

    command -v apt-get >/dev/null 2>&1 \
        || die "missing packages: ${missing[*]}; this script installs them with apt-get (Debian / Raspberry Pi OS), which is not on this machine: install them by hand and run it again"

    local sudo=()
    if ((EUID != 0)); then
        command -v sudo >/dev/null 2>&1 \
            || die "missing packages: ${missing[*]}; run as root, or install sudo, or install them by hand: apt-get install ${missing[*]}"
        sudo=(sudo)
    fi

    say "installing missing packages: ${missing[*]}"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 \
        || die "apt-get update failed; check the network and /etc/apt/sources.list, then run again"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 \
        || die "apt-get install ${missing[*]} failed (see above)"
    say "installed: ${missing[*]}"
}

# Make sure cargo runs. rustup installs into ~/.cargo/bin, which a fresh non-login shell (cron,
# CI, ssh host 'cmd') may not have on PATH yet, so pick that up before giving up.
ensure_cargo() {
    if ! command -v cargo >/dev/null 2>&1 && [[ -f "${CARGO_HOME:-$HOME/.cargo}/env" ]]; then
        # shellcheck disable=SC1091
        . "${CARGO_HOME:-$HOME/.cargo}/env"
    fi
    if ! command -v cargo >/dev/null 2>&1; then
        say "error: cargo was not found: Rust must be installed first, with rustup:"
        say "    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh"
        say "then open a new shell (or run: . \"\$HOME/.cargo/env\") and run this script again."
        exit 1
    fi
}

# ensure_cargo_tool CRATE VERSION [BINARY]: `cargo install --locked CRATE --version VERSION` when
# `cargo BINARY` (default: CRATE without its cargo- prefix) is missing or another version. Pinned
# so every machine builds packages with the same tool. Measured on the 2-core build machine:
# cargo-deb 3.8.0 takes about 1 minute.
ensure_cargo_tool() {
    local crate="$1" version="$2" sub="${3:-${1#cargo-}}" have
    have="$(cargo "$sub" --version 2>/dev/null | awk '{print $NF}')" || true
    [[ "$have" == "$version" ]] && return 0
    say "installing $crate $version (cargo install --locked; ${have:+replacing $have; }about a minute on 2 cores)"
    cargo install --locked --quiet "$crate" --version "$version" >&2 \
        || die "cargo install --locked $crate --version $version failed (see above); check the network and run again"
}
