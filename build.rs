//! Embed the iPXE boot programs into the binary, so one ironbox binary can network-boot
//! BIOS, UEFI x86-64 and UEFI ARM64 machines on a host without Debian's `ipxe` package;
//! `[pxe] ipxe_dir` still wins when it has the file. With `IRONBOX_REQUIRE_IPXE=1` (set by
//! packaging/build-release.sh) a build that would miss one of those three platforms fails.

use std::io::Write;
use std::path::Path;

use sha2::{Digest, Sha256};

/// The names looked for, and the platform each must be built for (checked in the file
/// itself, so a mislabelled program is never served to the wrong machine).
const PROGRAMS: &[(&str, &str)] = &[
    ("undionly.kpxe", "bios"),
    ("ipxe.efi", "uefi-x86_64"),
    ("snponly.efi", "uefi-x86_64"),
    ("ipxe-i386.efi", "uefi-i386"),
    ("ipxe-arm64.efi", "uefi-arm64"),
    ("snponly-arm64.efi", "uefi-arm64"),
];

/// What a release binary must be able to boot.
const REQUIRED: &[&str] = &["bios", "uefi-x86_64", "uefi-arm64"];

// A build script fails the build by panicking; that is its only way to report.
#[allow(clippy::panic)]
fn main() {
    let dir = std::env::var("IRONBOX_IPXE_DIR").unwrap_or_else(|_| "/usr/lib/ipxe".into());
    let require = std::env::var("IRONBOX_REQUIRE_IPXE").is_ok_and(|v| v == "1");
    println!("cargo:rerun-if-env-changed=IRONBOX_IPXE_DIR");
    println!("cargo:rerun-if-env-changed=IRONBOX_REQUIRE_IPXE");
    println!("cargo:rerun-if-changed=build.rs");
    // Only paths that exist: cargo reruns a build script on every build while a watched
    // path is missing. The nearest existing ancestor notices the directory appearing.
    let watched = Path::new(&dir)
        .ancestors()
        .find(|p| p.exists())
        .unwrap_or(Path::new("/"));
    println!("cargo:rerun-if-changed={}", watched.display());

    let mut entries = vec![];
    let mut report = vec![];
    let mut platforms = vec![];
    for (name, want) in PROGRAMS {
        let p = Path::new(&dir).join(name);
        let Ok(bytes) = std::fs::read(&p) else {
            continue;
        };
        println!("cargo:rerun-if-changed={}", p.display());
        let found = platform(name, &bytes);
        if found != *want {
            println!(
                "cargo:warning={} is built for {found}, not {want}: not embedded",
                p.display()
            );
            continue;
        }
        entries.push(format!(
            "    ({name:?}, include_bytes!({:?})),",
            p.display().to_string()
        ));
        let sum = Sha256::digest(&bytes);
        let hex: String = sum.iter().map(|b| format!("{b:02x}")).collect();
        report.push(format!(
            "  {name:<18} {want:<12} {:>8} bytes  sha256:{hex}",
            bytes.len()
        ));
        platforms.push(*want);
    }
    let missing: Vec<&str> = REQUIRED
        .iter()
        .copied()
        .filter(|p| !platforms.contains(p))
        .collect();
    if require && !missing.is_empty() {
        panic!(
            "IRONBOX_REQUIRE_IPXE=1 but {dir} has no iPXE program for {} \
             (looked for {}); packaging/build-release.sh fetches them",
            missing.join(", "),
            PROGRAMS
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let summary = if report.is_empty() {
        format!("embedded iPXE programs: none (none found in {dir} at build time)")
    } else {
        let mut s = format!(
            "embedded iPXE programs (from {dir}):\n{}",
            report.join("\n")
        );
        if !missing.is_empty() {
            s.push_str(&format!(
                "\nno embedded iPXE program for: {}",
                missing.join(", ")
            ));
        }
        s
    };
    let long_version = format!("{}\n{summary}", env!("CARGO_PKG_VERSION"));

    let out = Path::new(&std::env::var("OUT_DIR").unwrap_or_default()).join("ipxe_embedded.rs");
    let mut f = match std::fs::File::create(&out) {
        Ok(f) => f,
        Err(e) => panic!("cannot write {}: {e}", out.display()),
    };
    let code = format!(
        "/// iPXE programs found at build time in {dir}.\n\
         pub const EMBEDDED: &[(&str, &[u8])] = &[\n{}\n];\n\
         /// `ironbox --version`: the version and the embedded programs with their platforms.\n\
         pub const LONG_VERSION: &str = {long_version:?};\n",
        entries.join("\n")
    );
    if let Err(e) = f.write_all(code.as_bytes()) {
        panic!("cannot write {}: {e}", out.display());
    }
}

/// The platform a boot program runs on: the PE machine field of an EFI program
/// (e_lfanew at 0x3c, then "PE\0\0" and the machine), "bios" for a PXE program.
fn platform(name: &str, bytes: &[u8]) -> &'static str {
    if !name.ends_with(".efi") {
        return "bios";
    }
    let le32 = |at: usize| {
        bytes
            .get(at..at + 4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_le_bytes)
    };
    let Some(pe) = le32(0x3c).map(|v| v as usize) else {
        return "not-pe";
    };
    if bytes.get(..2) != Some(b"MZ") || bytes.get(pe..pe + 4) != Some(b"PE\0\0") {
        return "not-pe";
    }
    match bytes
        .get(pe + 4..pe + 6)
        .and_then(|b| b.try_into().ok())
        .map(u16::from_le_bytes)
    {
        Some(0x8664) => "uefi-x86_64",
        Some(0xaa64) => "uefi-arm64",
        Some(0x014c) => "uefi-i386",
        _ => "uefi-unknown",
    }
}
