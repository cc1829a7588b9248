//! Process-wide allocator settings for a small box: glibc's malloc, left to itself, keeps freed
//! memory the daemon never uses again. Measured with the demo (docs/benchmarks.md, "Builds for
//! the box"): each staff password hash (argon2, 19 MiB of work memory) is freed, but glibc's
//! dynamic mmap threshold rises past it after the first, so later hashes come from the heap and
//! stay there: 61 MiB of `[heap]` in an idle demo. A fixed threshold sends every large block
//! back to mmap (returned to the kernel on free), and two arenas stop per-thread heaps from
//! growing on a 24-thread daemon. Other C libraries (musl) ignore this; it does nothing there.

/// Blocks at least this large are mmapped (glibc's initial default, now fixed: never raised).
const MMAP_THRESHOLD_BYTES: i32 = 128 * 1024;
/// Most malloc arenas (glibc's default is 8 per core).
const ARENA_MAX: i32 = 2;

/// Applies the settings; call first thing in `main`, before any thread starts. Returns whether
/// the C library accepted both (false only off glibc or if glibc refused).
pub fn tune_allocator() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only sets allocator parameters; called before other threads exist.
        unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1 && libc::mallopt(libc::M_ARENA_MAX, ARENA_MAX) == 1 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn glibc_accepts_the_settings() {
        assert!(super::tune_allocator());
    }
}
