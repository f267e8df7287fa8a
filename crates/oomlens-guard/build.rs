//! Links the `oomlens-guard` daemon binary with packed relative relocations (DT_RELR,
//! glibc 2.36+, GNU ld 2.38+): its 4,900 relative relocations then take 1.4 KiB instead of
//! 116 KiB of `.rela.dyn`, which the dynamic loader reads at every start and which then
//! stayed resident (measured: VmRSS 4,740 vs 5,164 KiB, bench/README.md). An older GNU ld
//! warns and ignores the option.
fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    // Not for static builds (the QEMU guests' `+crt-static`): RELR is for the dynamic
    // loader, which a static binary does without.
    let features = std::env::var("CARGO_CFG_TARGET_FEATURE").unwrap_or_default();
    let static_crt = features.split(',').any(|f| f == "crt-static");
    if os == "linux" && env == "gnu" && !static_crt {
        println!("cargo:rustc-link-arg-bin=oomlens-guard=-Wl,-z,pack-relative-relocs");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
