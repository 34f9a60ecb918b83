//! ironbox's fuzz targets: the bodies live in `targets.rs` (shared with the stable corpus
//! replay in the root crate's `tests/fuzz_replay.rs`); `fuzz_targets/` holds one
//! libFuzzer entry point per target.

pub mod targets;

use std::alloc::{GlobalAlloc, Layout, System};

/// libFuzzer's `-malloc_limit_mb` needs a sanitizer's malloc hooks; the targets run
/// without one (for speed), so a single allocation over the limit aborts here instead.
const MALLOC_LIMIT: usize = 256 << 20;

struct Limited;

// SAFETY: forwards to the system allocator unchanged; only refuses oversized requests.
unsafe impl GlobalAlloc for Limited {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if l.size() > MALLOC_LIMIT {
            oversized(l.size());
        }
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        if l.size() > MALLOC_LIMIT {
            oversized(l.size());
        }
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        if new > MALLOC_LIMIT {
            oversized(new);
        }
        unsafe { System.realloc(p, l, new) }
    }
}

fn oversized(n: usize) -> ! {
    // No allocation here: write the message with a fixed buffer.
    let msg = b"==ironbox-fuzz== single allocation over the 256 MiB limit\n";
    unsafe { libc_write(2, msg.as_ptr(), msg.len()) };
    let _ = n;
    std::process::abort()
}

extern "C" {
    #[link_name = "write"]
    fn libc_write(fd: i32, buf: *const u8, n: usize) -> isize;
}

#[global_allocator]
static ALLOC: Limited = Limited;
