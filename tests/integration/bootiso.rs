//! Boot ISOs built by ironbox for `redfish-virtual-media` nodes that give only a deploy
//! kernel and ramdisk: deployed against sushy-tools, the BMC's virtual CD gets a URL on
//! ironbox's boot HTTP server that serves a UEFI-bootable ISO (checked with xorriso and
//! mtools: El Torito UEFI entry, ESP with the loader, script, kernel and ramdisk), and
//! tear-down ejects it and deletes it. Bad input: a BIOS node, a missing kernel.

use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};
use sha2::Digest;

use crate::harness::Ironbox;
use crate::redfish::{last_error, redfish_node, serve_file, verb, Sushy, SYSTEM};

/// A stand-in iPXE program (the real one only matters to a machine booting the ISO) that
/// carries the marker the builder checks for.
fn fake_ipxe(dir: &Path) {
    let mut l = b"MZ stand-in iPXE file:autoexec.ipxe".to_vec();
    l.resize(64 * 1024, 0x11);
    std::fs::write(dir.join("ipxe.efi"), l).unwrap();
}

fn start(root: &Path) -> Ironbox {
    let ipxe = root.join("ipxe");
    let http = root.join("http");
    std::fs::create_dir_all(&ipxe).unwrap();
    std::fs::create_dir_all(&http).unwrap();
    fake_ipxe(&ipxe);
    let kernel: Vec<u8> = (0..1_500_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(http.join("agent.kernel"), kernel).unwrap();
    std::fs::write(http.join("agent.initramfs"), vec![7u8; 2_000_000]).unwrap();
    Ironbox::start_with(&format!(
        "[dhcp]\ninterface = \"lo\"\nmode = \"off\"\n\
         [pxe]\nhttp_port = 0\ntftp_port = 0\nipxe_dir = \"{}\"\nhttp_root = \"{}\"\n\
         kernel_append_params = \"nofb console=ttyS0\"\n\
         [conductor]\nautomated_clean = false\n",
        ipxe.display(),
        http.display()
    ))
}

fn curl_to(url: &str, out: &Path) -> u16 {
    let o = Command::new("curl")
        .args(["-s", "-o"])
        .arg(out)
        .args(["-w", "%{http_code}", url])
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).parse().unwrap_or(0)
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

fn mcopy(esp: &Path, file: &str) -> Vec<u8> {
    let out = Command::new("mcopy")
        .args(["-n", "-i"])
        .arg(esp)
        .arg(format!("::{file}"))
        .arg("-")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{file}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Checks the served ISO the way a machine's firmware reads it; gives the ESP's script.
fn check_iso(iso: &Path, root: &Path) -> String {
    let report = run(Command::new("xorriso")
        .arg("-indev")
        .arg(iso)
        .args(["-report_el_torito", "plain"]));
    let entry = report
        .lines()
        .find(|l| l.starts_with("El Torito boot img :"))
        .unwrap_or_else(|| panic!("no El Torito boot image: {report}"));
    let cols: Vec<&str> = entry.split_whitespace().collect();
    assert!(cols.contains(&"UEFI") && cols.contains(&"none"), "{entry}");
    let lba: u64 = cols.last().unwrap().parse().unwrap();
    let sectors: u64 = cols[cols.len() - 2].parse().unwrap();
    let bytes = std::fs::read(iso).unwrap();
    let esp = &bytes[(lba * 2048) as usize..(lba * 2048 + sectors * 512) as usize];
    let esp_path = root.join("esp.img");
    std::fs::write(&esp_path, esp).unwrap();
    assert_eq!(
        mcopy(&esp_path, "/EFI/BOOT/BOOTX64.EFI"),
        std::fs::read(root.join("ipxe/ipxe.efi")).unwrap()
    );
    assert_eq!(
        mcopy(&esp_path, "/vmlinuz"),
        std::fs::read(root.join("http/agent.kernel")).unwrap()
    );
    assert_eq!(
        mcopy(&esp_path, "/ramdisk"),
        std::fs::read(root.join("http/agent.initramfs")).unwrap()
    );
    String::from_utf8(mcopy(&esp_path, "/autoexec.ipxe")).unwrap()
}

/// An instance image the deploy can check (it never gets as far as writing it).
fn image() -> Value {
    const BODY: &[u8] = b"a raw disk image, never written";
    let port = serve_file(BODY);
    let sum: String = sha2::Sha256::digest(BODY)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    json!({"image_source": format!("http://127.0.0.1:{port}/img.raw"),
           "image_checksum": format!("sha256:{sum}")})
}

fn cd(bmc: &Sushy) -> Value {
    bmc.get(&format!("/redfish/v1/Systems/{SYSTEM}/VirtualMedia/Cd"))
}

#[test]
fn deploy_with_only_a_kernel_and_ramdisk_inserts_a_built_uefi_iso_and_tear_down_removes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let bmc = Sushy::start(false);
    let ib = start(root);
    let mut di = bmc.driver_info();
    di["deploy_kernel"] = json!("agent.kernel");
    di["deploy_ramdisk"] = json!("agent.initramfs");
    let u = redfish_node(
        &ib,
        json!({"driver_info": di, "boot_interface": "redfish-virtual-media",
               "deploy_interface": "direct",
               "instance_info": image()}),
    );
    let v = ib.get(&format!("/v1/nodes/{u}/validate")).body;
    assert_eq!(v["boot"]["result"], true, "{v}");

    verb(&ib, &u, "manage", "manageable");
    verb(&ib, &u, "provide", "available");
    let n = verb(&ib, &u, "active", "wait call-back");
    assert_eq!(n["last_error"], Value::Null, "{n}");
    let media = cd(&bmc);
    assert_eq!(media["Inserted"], true, "{media}");
    let url = media["Image"].as_str().unwrap().to_string();
    assert!(
        url.starts_with("http://127.0.0.1:") && url.contains("/images/"),
        "{url}"
    );
    // Booted once from the CD, not told to network-boot afterwards.
    let boots: Vec<Value> = bmc
        .requests()
        .iter()
        .map(|r| r["body"]["Boot"]["BootSourceOverrideTarget"].clone())
        .filter(|t| !t.is_null())
        .collect();
    assert_eq!(boots.last(), Some(&json!("Cd")), "{boots:?}");

    let iso = root.join("served.iso");
    assert_eq!(curl_to(&url, &iso), 200);
    let script = check_iso(&iso, root);
    let kernel_line = script.lines().find(|l| l.starts_with("kernel ")).unwrap();
    assert!(kernel_line.contains("nofb console=ttyS0"), "{kernel_line}");
    assert!(
        kernel_line.contains(" ipa-api-url=http://127.0.0.1:"),
        "{kernel_line}"
    );
    assert!(
        !script.contains("password") && !script.contains("token"),
        "{script}"
    );

    // Tear down: ejected, and the ISO is gone from the boot HTTP server.
    verb(&ib, &u, "deleted", "available");
    let media = cd(&bmc);
    assert_eq!(media["Inserted"], false, "{media}");
    assert_eq!(curl_to(&url, &root.join("gone.iso")), 404);
}

#[test]
fn a_bios_node_and_a_missing_kernel_are_refused_clearly() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let bmc = Sushy::start(false);
    let ib = start(root);
    let mut di = bmc.driver_info();
    di["deploy_kernel"] = json!("agent.kernel");
    di["deploy_ramdisk"] = json!("agent.initramfs");
    let u = redfish_node(
        &ib,
        json!({"driver_info": di.clone(), "boot_interface": "redfish-virtual-media",
               "properties": {"capabilities": "boot_mode:bios"}}),
    );
    let v = ib.get(&format!("/v1/nodes/{u}/validate")).body;
    assert_eq!(v["boot"]["result"], false, "{v}");
    let why = v["boot"]["reason"].as_str().unwrap();
    assert!(
        why.contains("BIOS mode")
            && why.contains("UEFI-only")
            && why.contains("redfish_deploy_iso"),
        "{why}"
    );

    di["deploy_kernel"] = json!("no-such.kernel");
    let u = redfish_node(
        &ib,
        json!({"driver_info": di, "boot_interface": "redfish-virtual-media",
               "deploy_interface": "direct",
               "instance_info": image()}),
    );
    verb(&ib, &u, "manage", "manageable");
    verb(&ib, &u, "provide", "available");
    verb(&ib, &u, "active", "deploy failed");
    let err = last_error(&ib, &u);
    assert!(
        err.contains("cannot read the deploy kernel") && err.contains("no-such.kernel"),
        "{err}"
    );
    assert_eq!(cd(&bmc)["Inserted"], false);
}
