//! `oomlens-qemu`: runs oomlens's guest tests in QEMU.
//!
//! ```text
//! oomlens-qemu run [--test NAME-OR-GLOB]... [-- TEST-ARGS...]
//!     provision (QEMU, kernel, busybox, systemd image; cached), build the static guest
//!     tools, then run the guest test binaries (default: busybox_* and systemd_*), each in
//!     its own guest. Exit 0 passed, 1 failed, 77 skipped (QEMU cannot be installed, or
//!     OOMLENS_SKIP_QEMU=1).
//! oomlens-qemu prepare [--no-systemd]
//!     provision only.
//! oomlens-qemu runner BIN [ARGS...]
//!     the cargo runner: boot the guest BIN's file name asks for (busybox_*, systemd_*),
//!     run BIN ARGS there, exit with its status. Other binaries run here, unchanged.
//! oomlens-qemu exit N
//!     inside a guest: make QEMU exit with status (N << 1) | 1 through isa-debug-exit.
//! ```

use std::path::{Path, PathBuf};
use std::process::exit;
use std::time::Instant;

use oomlens_qemu::boot::{self, Bed, GuestKind, Status};
use oomlens_qemu::provision::BedError;
use oomlens_qemu::{Paths, EXIT_SKIPPED, GUEST_TOOLS};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match args.first().map(String::as_str) {
        Some("run") => run(&args[1..]),
        Some("prepare") => prepare(&args[1..]),
        Some("runner") if args.len() >= 2 => runner(Path::new(&args[1]), &args[2..]),
        Some("exit") if args.len() == 2 => guest_exit(&args[1]),
        _ => {
            eprintln!(
                "usage: oomlens-qemu run [--test NAME]... [-- TEST-ARGS]\n       \
                 oomlens-qemu prepare [--no-systemd]\n       \
                 oomlens-qemu runner BIN [ARGS]\n       oomlens-qemu exit N"
            );
            2
        }
    };
    exit(code);
}

/// The target directory: CARGO_TARGET_DIR, else two levels above this program
/// (`<target>/release/oomlens-qemu`).
fn target_dir() -> PathBuf {
    if let Some(t) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(t);
    }
    let exe = std::env::current_exe().expect("current_exe");
    exe.ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("target"))
}

fn skip_requested() -> bool {
    std::env::var("OOMLENS_SKIP_QEMU").is_ok_and(|v| !v.is_empty() && v != "0")
}

fn report(e: &BedError) -> i32 {
    match e {
        BedError::Unavailable(m) => {
            eprintln!("oomlens-qemu: SKIPPED: the guest suite did not run: {m}");
            EXIT_SKIPPED
        }
        BedError::Failed(m) => {
            eprintln!("oomlens-qemu: {m}");
            1
        }
    }
}

fn run(args: &[String]) -> i32 {
    if skip_requested() {
        eprintln!("oomlens-qemu: SKIPPED: the guest suite did not run: OOMLENS_SKIP_QEMU is set");
        return EXIT_SKIPPED;
    }
    let (mut tests, mut test_args) = (Vec::new(), Vec::new());
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--test" if i + 1 < args.len() => {
                tests.push(args[i + 1].clone());
                i += 2;
            }
            "--" => {
                test_args.extend_from_slice(&args[i + 1..]);
                break;
            }
            other => {
                eprintln!("oomlens-qemu run: unexpected argument {other:?}");
                return 2;
            }
        }
    }
    let start = Instant::now();
    let paths = Paths::new(target_dir());
    let systemd = tests.is_empty() || tests.iter().any(|t| !t.starts_with("busybox"));
    if let Err(e) = oomlens_qemu::provision(&paths, systemd) {
        return report(&e);
    }
    let provisioned = start.elapsed();
    if let Err(e) = oomlens_qemu::build_tools(&paths).and_then(|_| oomlens_qemu::build_deb(&paths))
    {
        return report(&e);
    }
    let built = start.elapsed();
    let me = std::env::current_exe().expect("current_exe");
    let mut cmd = oomlens_qemu::guest_cargo_test(&paths, &me, &tests, &test_args);
    let st = match cmd.status() {
        Ok(st) => st,
        Err(e) => return report(&BedError::Failed(format!("{cmd:?}: {e}"))),
    };
    eprintln!(
        "oomlens-qemu: guest suite {} in {:.1} s (provision {:.1} s, static build {:.1} s, \
         guest tests {:.1} s); artifacts in {}",
        if st.success() { "passed" } else { "FAILED" },
        start.elapsed().as_secs_f64(),
        provisioned.as_secs_f64(),
        (built - provisioned).as_secs_f64(),
        (start.elapsed() - built).as_secs_f64(),
        paths.artifacts.display()
    );
    if st.success() {
        0
    } else {
        1
    }
}

fn prepare(args: &[String]) -> i32 {
    let systemd = !args.iter().any(|a| a == "--no-systemd");
    let paths = Paths::new(target_dir());
    match oomlens_qemu::provision(&paths, systemd) {
        Ok((qemu, kernel, busybox, image)) => {
            println!("qemu     {}", qemu.display());
            println!("kernel   {} ({})", kernel.vmlinuz.display(), kernel.package);
            println!("busybox  {}", busybox.display());
            if let Some(i) = image {
                println!("systemd  {}", i.display());
            }
            0
        }
        Err(e) => report(&e),
    }
}

fn runner(bin: &Path, args: &[String]) -> i32 {
    let Some(kind) = GuestKind::of_binary(bin) else {
        // Not a guest test (a unit test of this crate under `--target`): run it here.
        let st = std::process::Command::new(bin).args(args).status();
        return match st {
            Ok(st) => st.code().unwrap_or(1),
            Err(e) => {
                eprintln!("oomlens-qemu runner: {}: {e}", bin.display());
                1
            }
        };
    };
    let bin = bin.canonicalize().unwrap_or_else(|_| bin.to_path_buf());
    // BIN is <target>/<triple>/release/deps/NAME-HASH: the tools are two levels up.
    let tools_dir = bin.ancestors().nth(2).expect("BIN in a deps directory");
    let target = tools_dir
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(target_dir);
    let paths = Paths::new(
        std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or(target),
    );
    let (qemu, kernel, busybox, image) =
        match oomlens_qemu::provision(&paths, kind == GuestKind::Systemd) {
            Ok(p) => p,
            Err(e) => return report(&e),
        };
    let mut tools = Vec::new();
    for (_, name) in GUEST_TOOLS {
        let t = tools_dir.join(name);
        if !t.exists() {
            eprintln!(
                "oomlens-qemu runner: {} is missing: build the static tools first \
                 (`cargo run -p oomlens-qemu -- run` does)",
                t.display()
            );
            return 1;
        }
        tools.push(t);
    }
    if tools_dir.join(oomlens_qemu::GUEST_DEB).exists() {
        tools.push(tools_dir.join(oomlens_qemu::GUEST_DEB));
    }
    let mut args = args.to_vec();
    // One guest, one kernel log: tests of a binary run one at a time.
    if !args.iter().any(|a| a.starts_with("--test-threads")) {
        args.push("--test-threads=1".into());
    }
    // ttyS1 is a terminal in the guest: without this, libtest would colour its
    // `test result:` lines, which log readers then fail to recognise.
    if !args.iter().any(|a| a.starts_with("--color")) {
        args.push("--color=never".into());
    }
    let bed = Bed {
        qemu,
        kernel,
        busybox,
        systemd_image: image,
        tools,
        artifacts: paths.artifacts.clone(),
        timeout: oomlens_qemu::boot_timeout(),
    };
    match boot::boot(kind, &bed, &bin, &args) {
        Ok(Status::Exited(code)) => code,
        Ok(Status::Died(rc)) => {
            eprintln!("oomlens-qemu runner: the guest stopped without a status (QEMU exit {rc})");
            125
        }
        Ok(Status::TimedOut) => {
            eprintln!(
                "oomlens-qemu runner: the guest did not finish within {:?} \
                 (OOMLENS_QEMU_TIMEOUT_SECS)",
                bed.timeout
            );
            124
        }
        Err(e) => report(&e),
    }
}

/// Writes `N` to the isa-debug-exit port 0xf4: QEMU exits with `(N << 1) | 1`.
fn guest_exit(n: &str) -> i32 {
    let Ok(n) = n.parse::<u32>() else {
        eprintln!("oomlens-qemu exit: bad status {n:?}");
        return 2;
    };
    #[cfg(target_arch = "x86_64")]
    // SAFETY: ioperm grants this process port 0xf4..0xf8; the out instruction writes to
    // the isa-debug-exit device there (in a guest) and nothing else.
    unsafe {
        if libc::ioperm(0xf4, 4, 1) != 0 {
            eprintln!(
                "oomlens-qemu exit: ioperm: {}",
                std::io::Error::last_os_error()
            );
            return 1;
        }
        std::arch::asm!("out dx, eax", in("dx") 0xf4u16, in("eax") n);
    }
    eprintln!("oomlens-qemu exit: still running: not in a QEMU guest with isa-debug-exit?");
    1
}
