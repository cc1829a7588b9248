#!/usr/bin/env bash
# Build storehub and run its demo: a store with an embedded catalog, config/demo.toml, and its
# data in ./demo-data (or $STOREHUB_DATA_DIR). Stop it with Ctrl-C; run again to continue with
# the same data, or delete the data dir to start fresh.
#
#   scripts/demo.sh                 run the demo
#   scripts/demo.sh --help          extra arguments go to `storehub demo`
#
# Installs only what the build needs (C toolchain, pkg-config) when missing, saying so on stderr.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

ensure_apt_packages "${STOREHUB_BUILD_PACKAGES[@]}"
ensure_cargo

say "building storehub (release)"
cargo build --release

# cargo puts the binary under $CARGO_TARGET_DIR when that is set, else under ./target.
exec "${CARGO_TARGET_DIR:-target}/release/storehub" --data-dir "${STOREHUB_DATA_DIR:-./demo-data}" demo "$@"
