//! Embed the iPXE boot programs into the binary when the build machine has them (Debian's
//! `ipxe` package), so a single ironbox binary can network-boot machines on a host without
//! that package. `[pxe] ipxe_dir` still wins when it has the file.

use std::io::Write;
use std::path::Path;

// A build script fails the build by panicking; that is its only way to report.
#[allow(clippy::panic)]
fn main() {
    let dir = std::env::var("IRONBOX_IPXE_DIR").unwrap_or_else(|_| "/usr/lib/ipxe".into());
    println!("cargo:rerun-if-env-changed=IRONBOX_IPXE_DIR");
    println!("cargo:rerun-if-changed={dir}");
    let out = Path::new(&std::env::var("OUT_DIR").unwrap_or_default()).join("ipxe_embedded.rs");
    let mut f = match std::fs::File::create(&out) {
        Ok(f) => f,
        Err(e) => panic!("cannot write {}: {e}", out.display()),
    };
    let mut entries = vec![];
    for name in [
        "undionly.kpxe",
        "ipxe.efi",
        "snponly.efi",
        "ipxe-i386.efi",
        "ipxe-arm64.efi",
        "snponly-arm64.efi",
    ] {
        let p = Path::new(&dir).join(name);
        if p.is_file() {
            entries.push(format!(
                "    ({name:?}, include_bytes!({:?})),",
                p.display().to_string()
            ));
        }
    }
    let _ = writeln!(f, "/// iPXE programs found at build time in {dir}.\npub const EMBEDDED: &[(&str, &[u8])] = &[\n{}\n];", entries.join("\n"));
}
