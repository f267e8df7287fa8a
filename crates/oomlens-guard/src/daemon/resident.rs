//! Giving back what start-up left resident when the guard is ready, then locking what stays.
//!
//! Most of an idle guard's resident set is its own code, not data (bench/README.md, "Idle
//! RSS"): flag parsing, the configuration, the store's opening scan, the metrics registry
//! and the first full read of the tree touch code that the one-second pass never runs
//! again, and the kernel maps each faulted text page with its neighbours (fault-around,
//! `fault_around_bytes`, 64 KiB by default; mm/memory.c `do_read_fault`, Linux 6.x). Those
//! pages stay mapped for as long as the guard runs. [`shed`] unmaps the binary's
//! read-only mappings and those of the shared libraries
//! it loaded (libc's pages are counted in every process's RSS, earlyoom's too)
//! (`MADV_DONTNEED`: a private file mapping refaults from the page cache
//! on the next touch, with its original contents) and returns freed heap to the kernel
//! (`malloc_trim`); the passes then fault back only the pages they use.
//!
//! The pages stay in the page cache (clean, shared, reclaimable), so this takes nothing the
//! guard needs: code that runs again (an incident's explainer) is faulted back in then, a
//! minor fault per 64 KiB while the page cache holds it. Measured in bench/README.md.
//!
//! Then [`lock`]: an OOM guard must not page its own code in while memory is short (earlyoom
//! calls `mlockall` too). `MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT` (Linux 4.4) locks what
//! is resident after the shed and every page faulted later - the record path at the first
//! incident stays from then on, so the next OOM finds it resident. That is why nothing is
//! shed after a record: `MADV_DONTNEED` on locked pages fails with `EINVAL` anyway
//! (mm/madvise.c `can_madv_lru_vma`, VM_LOCKED), and dropping the record path would cost
//! major faults at the next incident, when the page cache is what the kernel reclaims.

/// One mapping of `/proc/self/maps` to give back: start and length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// First address.
    pub start: usize,
    /// Length in bytes.
    pub len: usize,
}

/// The read-only file mappings (of the executable and of the shared libraries it loaded) that hold
/// only their file's bytes, in a `/proc/PID/smaps` text: no write permission and no
/// anonymous (copied) page. The second
/// rule keeps out RELRO (`.data.rel.ro`, the GOT): read-only now, but written by the
/// dynamic loader's relocations first, so its pages are private copies that differ from the
/// file, and dropping them would bring back unrelocated pointers.
pub fn readonly_spans_of(smaps: &str) -> Vec<Span> {
    let mut out = Vec::new();
    let mut cur: Option<Span> = None;
    for line in smaps.lines() {
        if let Some(kb) = line.strip_prefix("Anonymous:") {
            let anon = kb.trim().trim_end_matches("kB").trim();
            if anon != "0" {
                cur = None; // copied pages: not ours to drop
            }
            continue;
        }
        if line.starts_with(|c: char| c.is_ascii_hexdigit()) && line.contains('-') {
            // A mapping's first line: address perms offset dev inode path (the path may
            // hold spaces: the rest). A field line ("Rss:", "VmFlags:") has no hyphenated
            // hex address.
            out.extend(cur.take());
            cur = mapping(line);
        }
    }
    out.extend(cur);
    out
}

/// The span of one `maps`/`smaps` mapping line, when it is a read-only mapping of a file
/// (not the kernel's `[vdso]`/`[vvar]`, not anonymous memory).
fn mapping(line: &str) -> Option<Span> {
    let mut f = line.splitn(6, ' ');
    let (range, perms) = (f.next()?, f.next()?);
    let path = f.nth(3)?.trim_start();
    if !path.starts_with('/') || perms.as_bytes().get(1) != Some(&b'-') {
        return None;
    }
    let (a, b) = range.split_once('-')?;
    let start = usize::from_str_radix(a, 16).ok()?;
    let end = usize::from_str_radix(b, 16).ok()?;
    (end > start).then_some(Span {
        start,
        len: end - start,
    })
}

/// Unmaps the pages of the read-only file mappings ([`readonly_spans_of`]) and trims the
/// heap; returns how many mappings were given back. Called once, when start-up is over
/// (after the first pass), before [`lock`].
pub fn shed() -> usize {
    let Ok(maps) = std::fs::read_to_string("/proc/self/smaps") else {
        return 0;
    };
    let mut n = 0;
    for s in readonly_spans_of(&maps) {
        // SAFETY: the span is a whole read-only private mapping of a file (our executable,
        // a shared library) holding only the file's bytes (from /proc/self/smaps, page aligned); MADV_DONTNEED on it only drops page table
        // entries, and the next access reads the same bytes from the file again, so no
        // Rust object in it changes (madvise(2): private file mappings are refilled from
        // the file).
        let r = unsafe { libc::madvise(s.start as *mut libc::c_void, s.len, libc::MADV_DONTNEED) };
        if r == 0 {
            n += 1;
        }
    }
    trim_heap();
    n
}

/// Locks the resident pages and every page faulted from now on in memory
/// (`mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT)`). `MCL_ONFAULT` keeps `MCL_FUTURE`
/// from populating whole new mappings (a thread's stack, a large allocation) at once: only
/// what is touched becomes resident, and then stays. Fails without `CAP_IPC_LOCK` when
/// the resident set exceeds `RLIMIT_MEMLOCK`, or on a kernel older than 4.4 (`EINVAL`).
pub fn lock() -> std::io::Result<()> {
    // SAFETY: mlockall takes flags only and changes no memory contents.
    let r = unsafe { libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE | libc::MCL_ONFAULT) };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(target_env = "gnu")]
fn trim_heap() {
    // SAFETY: malloc_trim only returns free memory of glibc's arenas to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(target_env = "gnu"))]
fn trim_heap() {}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only read-only file mappings that hold no copied page: not RELRO (read-only, but
    /// relocated), not writable data, not the heap, not the kernel's vdso.
    #[test]
    fn only_readonly_file_pages() {
        let map = |line: &str, anon: u32| {
            format!("{line}\nRss: 8 kB\nAnonymous: {anon} kB\nVmFlags: rd mr\n")
        };
        let smaps = [
            map("55fd03ab5000-55fd03ba5000 r--p 00000000 08:01 123 /usr/bin/oomlens-guard", 0),
            map("55fd03ba5000-55fd03ee8000 r-xp 000f0000 08:01 123 /usr/bin/oomlens-guard", 0),
            map("55fd03ee8000-55fd03f07000 r--p 00433000 08:01 123 /usr/bin/oomlens-guard", 124),
            map("55fd03f07000-55fd03f09000 rw-p 00452000 08:01 123 /usr/bin/oomlens-guard", 8),
            map("7ffe45bf9000-7ffe45bfb000 r-xp 00000000 00:00 0                  [vdso]", 0),
            map("55fd1dd17000-55fd1de60000 rw-p 00000000 00:00 0                  [heap]", 144),
            map("7f620109b000-7f62011f1000 r-xp 00028000 08:01 99 /usr/lib/x86_64-linux-gnu/libc.so.6", 0),
        ]
        .concat();
        let spans = readonly_spans_of(&smaps);
        assert_eq!(
            spans,
            vec![
                Span {
                    start: 0x55fd03ab5000,
                    len: 0xf0000
                },
                Span {
                    start: 0x55fd03ba5000,
                    len: 0x343000
                },
                Span {
                    start: 0x7f620109b000,
                    len: 0x156000
                },
            ]
        );
    }

    /// On this process (a test binary): its code is given back and still runs afterwards,
    /// and its resident set does not grow by it.
    #[test]
    fn shedding_keeps_the_process_running() {
        let rss = || -> u64 {
            let s = std::fs::read_to_string("/proc/self/status").unwrap();
            let line = s.lines().find(|l| l.starts_with("RssFile:")).unwrap();
            line.split_whitespace().nth(1).unwrap().parse().unwrap()
        };
        let before = rss();
        assert!(shed() >= 2, "code and constants at least");
        let after = rss();
        assert!(after < before, "RssFile {before} kB -> {after} kB");
        // Code runs again from the refaulted pages.
        assert_eq!(readonly_spans_of(""), Vec::new());
    }
}
