#!/usr/bin/env bash
# Measure what docs/benchmarks.md ("Builds for the box") records: the stripped size of each
# storehub binary and its idle RSS running the demo store, natively for x86_64 and under
# qemu-user for aarch64 and armv7 (with the part resident in the guest's own mappings, which
# leaves out qemu and its translated-code cache), next to qemu's own RSS running a trivial static program of
# the same architecture (so the emulator's share can be read off).
#
#   scripts/measure-box.sh            every binary that is built (see below); build them first:
#                                     cargo build --release && scripts/cross-build.sh
#   scripts/measure-box.sh --settle 60
#                                     seconds to let the demo settle before reading VmRSS (30)
#
# Binaries: $CARGO_TARGET_DIR (or target)/release/storehub (x86_64, stripped into a temporary
# copy for the size) and <triple>/release/storehub as scripts/cross-build.sh leaves them.
# Idle: `storehub demo --shopper-every 0 --listen 127.0.0.1:0` on a fresh data dir (the demo
# store's 257 products with stock, its simulated devices on ptys, no scripted shopper); VmRSS
# from /proc/PID/status once its control socket answers and --settle seconds have passed. A
# binary that is not built is listed as such; nothing here fails on a figure (performance is
# recorded, not asserted).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

SETTLE=30
while (($# > 0)); do
    case "$1" in
    --settle)
        (($# >= 2)) && [[ "$2" =~ ^[0-9]+$ ]] || die "--settle needs a whole number of seconds"
        SETTLE="$2"
        shift 2
        ;;
    *) die "unknown argument '$1': the only option is --settle SECONDS" ;;
    esac
done

ROOT="${CARGO_TARGET_DIR:-target}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/storehub-measure.XXXXXX")"
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null; }

# guest_kib PID: under qemu-user, the KiB resident in the guest's own mappings: everything but
# qemu's (its binary, its [heap] and stack, the rwx translated-code cache, and the anonymous
# mappings of its threads, which the kernel places at 0x7f… while qemu places the guest low).
guest_kib() {
    python3 - "$1" <<'PY' 2>/dev/null || echo 0
import os, sys
pid = sys.argv[1]
qemu = os.path.realpath(f"/proc/{pid}/exe")
total, keep = 0, False
for line in open(f"/proc/{pid}/smaps"):
    f = line.split()
    if len(f) >= 5 and "-" in f[0] and f[0].replace("-", "").isalnum() and ":" in f[3]:
        start = int(f[0].split("-")[0], 16)
        path = f[5] if len(f) > 5 else ""
        host = path == qemu or path.startswith("[") or ("x" in f[1] and "w" in f[1] and not path) or (not path and start >= 0x7F0000000000)
        keep = not host
    elif f and f[0] == "Rss:" and keep:
        total += int(f[1])
print(total)
PY
}
mib() { printf '%d.%01d' $(($1 / 1024)) $(($1 % 1024 * 10 / 1024)); }

# idle_rss NAME RUNNER... BIN: prints VmRSS in KiB of the demo after it settled, then the KiB
# in the guest's own mappings under qemu-user (`-` natively).
idle_rss() {
    local name="$1"
    shift
    local data="$WORK/$name-data"
    mkdir -p "$data"
    "$@" --data-dir "$data" demo --shopper-every 0 --listen 127.0.0.1:0 >"$WORK/$name.log" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    local waited=0
    until python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])' "$data/control.sock" 2>/dev/null; do
        kill -0 "$pid" 2>/dev/null || { say "$name: the demo exited; its log:"; cat "$WORK/$name.log" >&2; echo "0 -"; return; }
        ((waited < 600)) || { say "$name: the demo did not answer on its control socket in 120 s"; echo "0 -"; return; }
        sleep 0.2
        waited=$((waited + 1))
    done
    sleep "$SETTLE"
    if (($# > 1)); then
        echo "$(kib "$pid") $(guest_kib "$pid")"
    else
        echo "$(kib "$pid") -"
    fi
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# baseline_rss RUNNER: VmRSS in KiB of RUNNER running a static program that only waits.
baseline_rss() {
    "$@" &
    local pid=$!
    PIDS+=("$pid")
    sleep 2
    kib "$pid"
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cat >"$WORK/idle.c" <<'EOF'
#include <unistd.h>
/* Waits and does nothing: qemu-user's own memory with a minimal guest. */
int main(void) { for (;;) pause(); }
EOF

printf '| target | stripped binary | idle RSS, demo | of which in the guest (qemu-user) | qemu-user alone (static idle program) |\n|---|---:|---:|---:|---:|\n'
for target in x86_64 aarch64 armv7; do
    case "$target" in
    x86_64) bin="$ROOT/release/storehub" runner=() gcc=gcc strip=strip ;;
    aarch64) bin="$ROOT/aarch64-unknown-linux-gnu/release/storehub" runner=(qemu-aarch64-static) gcc=aarch64-linux-gnu-gcc strip=aarch64-linux-gnu-strip ;;
    armv7) bin="$ROOT/armv7-unknown-linux-gnueabihf/release/storehub" runner=(qemu-arm-static -L /usr/arm-linux-gnueabihf) gcc=arm-linux-gnueabihf-gcc strip=arm-linux-gnueabihf-strip ;;
    esac
    if [[ ! -x "$bin" ]]; then
        printf '| %s | not built (%s) | | | |\n' "$target" "$bin"
        continue
    fi
    cp "$bin" "$WORK/storehub-$target"
    "$strip" --strip-all "$WORK/storehub-$target"
    size="$(stat -c %s "$WORK/storehub-$target")"
    read -r rss guest < <(idle_rss "$target" "${runner[@]}" "$WORK/storehub-$target")
    [[ "$guest" == "-" ]] && guest_text="n/a (native)" || guest_text="$(mib "${guest:-0}") MiB"
    base="n/a (native)"
    if ((${#runner[@]} > 0)); then
        if command -v "$gcc" >/dev/null 2>&1 && "$gcc" -static -Os -o "$WORK/idle-$target" "$WORK/idle.c" 2>"$WORK/idle-$target.log"; then
            b="$(baseline_rss "${runner[@]}" "$WORK/idle-$target")"
            base="$(mib "${b:-0}") MiB"
        else
            base="not measured ($gcc could not build the static program)"
        fi
    fi
    printf '| %s | %d bytes (%s MiB) | %s MiB | %s | %s |\n' "$target" "$size" "$(mib $((size / 1024)))" "$(mib "${rss:-0}")" "$guest_text" "$base"
done
