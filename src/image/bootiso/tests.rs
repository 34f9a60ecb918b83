//! Tests of the boot ISO: read back by xorriso (El Torito), mtools (the FAT ESP) and an
//! independent ISO9660 reader.

use super::*;
use iso9660_forensic::IsoReader;
use std::process::Command;

/// A stand-in iPXE program: what the builder checks for, in some bytes.
fn loader() -> Vec<u8> {
    let mut l = b"MZ fake iPXE\0file:autoexec.ipxe\0".to_vec();
    l.resize(200_000, 0x5a);
    l
}

struct Inputs {
    dir: tempfile::TempDir,
    loader: Vec<u8>,
}

impl Inputs {
    fn new(kernel_len: usize, ramdisk_len: u64) -> Inputs {
        let dir = tempfile::tempdir().expect("tempdir");
        let kernel: Vec<u8> = (0..kernel_len).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(dir.path().join("kernel"), kernel).expect("kernel");
        let f = File::create(dir.path().join("ramdisk")).expect("ramdisk");
        f.set_len(ramdisk_len).expect("len");
        (&f).write_all(b"070701 cpio head").expect("write");
        Inputs {
            dir,
            loader: loader(),
        }
    }
    fn spec<'a>(&'a self, cmdline: &'a str) -> BootIso<'a> {
        BootIso {
            arch: Arch::X86_64,
            loader: &self.loader,
            kernel: self.kernel(),
            ramdisk: self.ramdisk(),
            cmdline,
        }
    }
    fn kernel(&self) -> &Path {
        // Paths live as long as the temp dir; leak-free by building them on demand.
        Box::leak(self.dir.path().join("kernel").into_boxed_path())
    }
    fn ramdisk(&self) -> &Path {
        Box::leak(self.dir.path().join("ramdisk").into_boxed_path())
    }
    fn out(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("tool runs");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// The ESP as the ISO9660 tree holds it.
fn esp_of(iso: &Path) -> Vec<u8> {
    let bytes = std::fs::read(iso).expect("read iso");
    let mut r = IsoReader::open(std::io::Cursor::new(bytes)).expect("opens as ISO9660");
    assert_eq!(r.volume_label(), LABEL);
    let entries = r.walk().expect("walk");
    let e = entries
        .iter()
        .find(|e| e.path == ESP_PATH)
        .expect("efiboot.img in the tree");
    r.read_file_entry(&e.record).expect("read esp")
}

fn mcopy(esp: &Path, file: &str) -> Vec<u8> {
    let out = Command::new("mcopy")
        .args(["-n", "-i"])
        .arg(esp)
        .arg(format!("::{file}"))
        .arg("-")
        .output()
        .expect("mcopy runs");
    assert!(
        out.status.success(),
        "{file}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn el_torito_uefi_entry_points_at_a_fat_esp_with_loader_script_kernel_and_ramdisk() {
    let inputs = Inputs::new(3_000_000, 5_000_000);
    let cmdline = "nofb nomodeset vga=normal ipa-api-url=http://192.0.2.1:6385";
    let iso = inputs.out("boot.iso");
    let size = build(&inputs.spec(cmdline), &iso).expect("build");
    assert_eq!(std::fs::metadata(&iso).expect("meta").len(), size);

    let report = run(Command::new("xorriso")
        .args(["-indev"])
        .arg(&iso)
        .args(["-report_el_torito", "plain"]));
    let entry = report
        .lines()
        .find(|l| l.starts_with("El Torito boot img :"))
        .unwrap_or_else(|| panic!("no boot image in {report}"));
    // "El Torito boot img :   1  UEFI  y   none  0x0000  0x00      <sectors>   <lba>"
    let cols: Vec<&str> = entry.split_whitespace().collect();
    assert!(cols.contains(&"UEFI"), "{entry}");
    assert!(cols.contains(&"none"), "no-emulation: {entry}");
    let lba: u64 = cols.last().and_then(|c| c.parse().ok()).expect("lba");
    let esp = esp_of(&iso);
    let raw = std::fs::read(&iso).expect("iso");
    let at = (lba * 2048) as usize;
    assert_eq!(
        &raw[at..at + esp.len()],
        &esp[..],
        "the catalog points at efiboot.img"
    );
    let sectors: u64 = cols[cols.len() - 2].parse().expect("sectors");
    assert_eq!(sectors * 512, esp.len() as u64);

    let esp_path = inputs.out("esp.img");
    std::fs::write(&esp_path, &esp).expect("esp");
    let listing = run(Command::new("mdir")
        .args(["-/", "-b", "-i"])
        .arg(&esp_path)
        .arg("::"));
    for want in [
        "::/EFI/BOOT/BOOTX64.EFI",
        "::/EFI/BOOT/AUTOEXEC.IPXE",
        "::/AUTOEXEC.IPXE",
        "::/VMLINUZ",
        "::/RAMDISK",
    ] {
        assert!(
            listing.to_ascii_uppercase().contains(want),
            "{want} missing from {listing}"
        );
    }
    assert_eq!(mcopy(&esp_path, "/EFI/BOOT/BOOTX64.EFI"), inputs.loader);
    assert_eq!(
        mcopy(&esp_path, "/vmlinuz"),
        std::fs::read(inputs.kernel()).expect("kernel")
    );
    assert_eq!(
        mcopy(&esp_path, "/ramdisk"),
        std::fs::read(inputs.ramdisk()).expect("ramdisk")
    );
    let script_text = String::from_utf8(mcopy(&esp_path, "/autoexec.ipxe")).expect("utf8");
    assert_eq!(script_text, script(cmdline));
    assert!(script_text.contains(&format!("kernel file:/vmlinuz initrd=ramdisk {cmdline} ")));
    assert_eq!(
        mcopy(&esp_path, "/EFI/BOOT/autoexec.ipxe"),
        script_text.as_bytes()
    );
    let info = run(Command::new("minfo").arg("-i").arg(&esp_path).arg("::"));
    assert!(info.contains("IRONBOX ESP"), "{info}");
}

#[test]
fn the_same_inputs_give_the_same_bytes() {
    let inputs = Inputs::new(100_000, 300_000);
    let (a, b) = (inputs.out("a.iso"), inputs.out("b.iso"));
    build(&inputs.spec("x=1"), &a).expect("a");
    build(&inputs.spec("x=1"), &b).expect("b");
    assert_eq!(std::fs::read(&a).expect("a"), std::fs::read(&b).expect("b"));
    build(&inputs.spec("x=2"), &b).expect("b");
    assert_ne!(std::fs::read(&a).expect("a"), std::fs::read(&b).expect("b"));
}

#[test]
fn an_esp_over_32_mib_is_last_and_counted_as_zero_sectors() {
    let inputs = Inputs::new(10_000, 40 << 20);
    let iso = inputs.out("big.iso");
    let size = build(&inputs.spec("x"), &iso).expect("build");
    let report = run(Command::new("xorriso")
        .args(["-indev"])
        .arg(&iso)
        .args(["-report_el_torito", "plain"]));
    let entry = report
        .lines()
        .find(|l| l.starts_with("El Torito boot img :"))
        .unwrap_or_else(|| panic!("{report}"));
    let cols: Vec<&str> = entry.split_whitespace().collect();
    let lba: u64 = cols.last().and_then(|c| c.parse().ok()).expect("lba");
    let esp = esp_of(&iso);
    assert_eq!(
        lba * 2048 + esp.len() as u64,
        size,
        "the ESP ends the image"
    );
    // xorriso shows a 0 count as the rest of the image or 0; either way not 65535.
    assert_ne!(cols[cols.len() - 2], "65535", "{entry}");
    let esp_path = inputs.out("esp.img");
    std::fs::write(&esp_path, &esp).expect("esp");
    assert_eq!(
        mcopy(&esp_path, "/ramdisk").len() as u64,
        40 << 20,
        "the whole ramdisk is in the ESP"
    );
}

#[test]
fn bad_inputs_are_refused_with_their_reason() {
    let inputs = Inputs::new(1000, 1000);
    let out = inputs.out("x.iso");
    let err = |spec: BootIso<'_>| build(&spec, &out).expect_err("refused").to_string();

    let mut missing = inputs.spec("a");
    let nowhere = inputs.out("no-such-kernel");
    missing.kernel = &nowhere;
    let e = err(missing);
    assert!(
        e.contains("cannot read the kernel") && e.contains("no-such-kernel"),
        "{e}"
    );

    let empty = inputs.out("empty");
    std::fs::write(&empty, b"").expect("empty");
    let mut spec = inputs.spec("a");
    spec.ramdisk = &empty;
    assert!(err(spec).contains("the ramdisk is empty"));

    assert!(err(inputs.spec("a\nshell")).contains("printable ASCII"));
    assert!(err(inputs.spec(&"x".repeat(MAX_CMDLINE + 1))).contains("limit is 2048"));

    let old = vec![0u8; 1000];
    let mut spec = inputs.spec("a");
    spec.loader = &old;
    assert!(err(spec).contains("does not run autoexec.ipxe"));

    assert_eq!(Arch::parse("arm64"), Some(Arch::Aarch64));
    assert_eq!(Arch::parse("x86_64"), Some(Arch::X86_64));
    assert_eq!(Arch::parse("ppc64le"), None);
    assert_eq!(Arch::Aarch64.loader_file(), "BOOTAA64.EFI");
}

/// Debian's `ovmf` package.
const OVMF: &str = "/usr/share/OVMF";

/// The real thing: OVMF boots the ISO from a virtual CD, iPXE runs the ESP's script and
/// starts the kernel with our command line (seen on the serial console). Needs QEMU, the
/// lab's OVMF and kernel, and an iPXE ≥ 1.21.1; run with
/// `IRONBOX_TEST_IPXE_EFI=/path/ipxe.efi cargo test --lib bootiso -- --ignored`.
#[test]
#[ignore = "boots QEMU (TCG, about a minute); needs IRONBOX_TEST_IPXE_EFI and the lab files"]
fn ovmf_boots_the_iso_into_the_kernel_with_the_command_line() {
    let lab = std::env::var("IRONBOX_LAB_DIR").unwrap_or_else(|_| "/tmp/ironbox-lab".into());
    let lab = Path::new(&lab);
    let ipxe =
        std::fs::read(std::env::var("IRONBOX_TEST_IPXE_EFI").expect("IRONBOX_TEST_IPXE_EFI"))
            .expect("ipxe");
    let dir = tempfile::tempdir().expect("tempdir");
    let initrd = dir.path().join("initrd");
    std::fs::write(&initrd, vec![0u8; 4096]).expect("initrd");
    let marker = format!("ironbox-iso-test={}", std::process::id());
    let cmdline = format!("console=ttyS0 panic=-1 {marker}");
    let iso = dir.path().join("boot.iso");
    let kernel = lab.join("kernel/vmlinuz");
    build(
        &BootIso {
            arch: Arch::X86_64,
            loader: &ipxe,
            kernel: &kernel,
            ramdisk: &initrd,
            cmdline: &cmdline,
        },
        &iso,
    )
    .expect("build");
    let vars = dir.path().join("vars.fd");
    std::fs::copy(Path::new(OVMF).join("OVMF_VARS_4M.fd"), &vars).expect("vars");
    let mut child = Command::new("timeout")
        .args([
            "180",
            "qemu-system-x86_64",
            "-machine",
            "q35",
            "-m",
            "1024",
            "-display",
            "none",
        ])
        // A NIC (iPXE boots EFI kernels through one), isolated from everything.
        .args([
            "-serial",
            "stdio",
            "-nic",
            "user,model=virtio-net-pci,restrict=on",
        ])
        .args(["-boot", "order=d", "-no-reboot", "-drive"])
        .arg(format!(
            "if=pflash,format=raw,readonly=on,file={}",
            Path::new(OVMF).join("OVMF_CODE_4M.fd").display()
        ))
        .arg("-drive")
        .arg(format!("if=pflash,format=raw,file={}", vars.display()))
        .arg("-cdrom")
        .arg(&iso)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("qemu");
    let out = child.stdout.take().expect("stdout");
    let mut seen = String::new();
    let mut found = false;
    for line in std::io::BufRead::lines(std::io::BufReader::new(out)).map_while(Result::ok) {
        seen.push_str(&line);
        seen.push('\n');
        if line.contains("Command line:") && line.contains(&marker) {
            found = true;
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        found,
        "the kernel never started with our command line:\n{seen}"
    );
}
