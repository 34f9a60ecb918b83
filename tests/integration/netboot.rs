//! The boot network with real clients inside a network namespace the test creates (never
//! the host network): busybox udhcpc against the DHCP server in full and proxy mode, curl
//! as TFTP and HTTP client, and QEMU machines PXE-booting (BIOS and UEFI) to a test
//! ramdisk that fetches a marker over HTTP. Needs root and `bash tests/lab/setup.sh`.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use serde_json::json;

use crate::harness::{lab, sh, Ironbox, Netns};
use crate::metrics::sample;

fn boot_config(mode: &str, http_root: &Path) -> String {
    format!(
        "[dhcp]\ninterface = \"br0\"\nmode = \"{mode}\"\nrange_start = \"10.99.0.100\"\nrange_end = \"10.99.0.110\"\nlease_time = 600\nipv6_ra = true\n[pxe]\nhttp_root = \"{}\"\n",
        http_root.display()
    )
}

fn enroll(ib: &Ironbox, mac: &str) -> String {
    let n = ib.post(
        "/v1/nodes",
        json!({"driver": "manual-management", "name": "netboot-1", "deploy_interface": "ramdisk"}),
    );
    assert_eq!(n.status, 201, "{}", n.body);
    let u = n.body["uuid"].as_str().unwrap().to_string();
    assert_eq!(
        ib.post("/v1/ports", json!({"address": mac, "node_uuid": u}))
            .status,
        201
    );
    u
}

fn udhcpc(ns: &Netns) -> (bool, String) {
    ns.exec(&[
        "busybox",
        "udhcpc",
        "-i",
        "vcl1",
        "-n",
        "-q",
        "-f",
        "-t",
        "3",
        "-T",
        "1",
        "-s",
        "/bin/true",
    ])
}

#[test]
fn dhcp_full_and_proxy_modes_with_udhcpc() {
    let ns = Netns::up(0);
    let root = tempfile::tempdir().unwrap();
    let ib = Ironbox::start_in_netns(&ns.name, &boot_config("full", root.path()));
    // Unknown MAC: no answer.
    let (ok, out) = udhcpc(&ns);
    assert!(
        !ok && !out.contains("obtained"),
        "unknown MAC got a lease: {out}"
    );
    let mac = ns.mac("vcl1");
    enroll(&ib, &mac);
    let (ok, out) = udhcpc(&ns);
    assert!(ok && out.contains("lease of 10.99.0.100 obtained"), "{out}");
    // Renewal keeps the address.
    let (ok, out) = udhcpc(&ns);
    assert!(ok && out.contains("lease of 10.99.0.100 obtained"), "{out}");
    assert!(ib.log().contains("lease granted"), "{}", ib.log());
    // /metrics counted every packet: the unknown MAC's DISCOVERs dropped with their
    // reason, then two DISCOVER/REQUEST rounds answered.
    let text = metrics_text(&ib);
    let dhcp = |kind, result, reason| {
        sample(
            &text,
            "ironbox_dhcp_packets_total",
            &[
                ("message_type", kind),
                ("result", result),
                ("reason", reason),
            ],
        )
        .unwrap_or(0.0)
    };
    assert!(dhcp("discover", "dropped", "unknown_mac") >= 1.0, "{text}");
    assert!(
        dhcp("discover", "answered", "address offered") >= 1.0,
        "{text}"
    );
    assert_eq!(dhcp("request", "answered", "lease granted"), 2.0, "{text}");
    drop(ib);
    // Proxy mode never hands out addresses: a plain client gets nothing.
    let ib = Ironbox::start_in_netns(&ns.name, &boot_config("proxy", root.path()));
    enroll(&ib, &mac);
    let (ok, out) = udhcpc(&ns);
    assert!(
        !ok && !out.contains("obtained"),
        "proxy mode gave an address: {out}"
    );
}

/// `/metrics` of an ironbox running in a network namespace.
fn metrics_text(ib: &Ironbox) -> String {
    let r = ib.req("GET", "/metrics", None, None);
    assert_eq!(r.status, 200, "{}", r.body);
    r.body.as_str().unwrap_or_default().to_string()
}

#[test]
fn tftp_and_http_boot_files() {
    let ns = Netns::up(0);
    let root = tempfile::tempdir().unwrap();
    let blob: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    std::fs::write(root.path().join("blob.bin"), &blob).unwrap();
    let ib = Ironbox::start_in_netns(&ns.name, &boot_config("off", root.path()));
    let got = root.path().join("got.kpxe");
    // TFTP with a large block size, as iPXE asks for.
    let (ok, out) = ns.exec(&[
        "curl",
        "-sS",
        "--tftp-blksize",
        "1468",
        "-o",
        got.to_str().unwrap(),
        "tftp://10.99.0.1/undionly.kpxe",
    ]);
    assert!(ok, "{out}");
    assert_eq!(
        std::fs::read(&got).unwrap(),
        std::fs::read("/usr/lib/ipxe/undionly.kpxe").unwrap()
    );
    let (ok, out) = ns.exec(&["curl", "-sS", "tftp://10.99.0.1/boot.ipxe"]);
    assert!(
        ok && out.starts_with("#!ipxe") && out.contains("http://10.99.0.1:8080/ipxe/"),
        "{out}"
    );
    for bad in ["../../etc/passwd", "/etc/passwd", "nope.bin"] {
        let (ok, _) = ns.exec(&[
            "curl",
            "-sS",
            "-o",
            "/dev/null",
            &format!("tftp://10.99.0.1/{bad}"),
        ]);
        assert!(!ok, "TFTP served {bad}");
    }
    // HTTP: ranges, whole files, traversal refused, scripts.
    let (ok, out) = ns.exec(&[
        "curl",
        "-sS",
        "-r",
        "1000-1999",
        "-o",
        root.path().join("part").to_str().unwrap(),
        "-w",
        "%{http_code}",
        "http://10.99.0.1:8080/files/blob.bin",
    ]);
    assert!(ok && out == "206", "{out}");
    assert_eq!(
        std::fs::read(root.path().join("part")).unwrap(),
        &blob[1000..2000]
    );
    let (ok, out) = ns.exec(&[
        "curl",
        "-sS",
        "-o",
        root.path().join("whole").to_str().unwrap(),
        "-w",
        "%{http_code} %{size_download}",
        "http://10.99.0.1:8080/files/blob.bin",
    ]);
    assert!(ok && out == format!("200 {}", blob.len()), "{out}");
    assert_eq!(std::fs::read(root.path().join("whole")).unwrap(), blob);
    // HEAD works too (UEFI HTTP boot asks HEAD first).
    let (ok, out) = ns.exec(&[
        "curl",
        "-sS",
        "-I",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "http://10.99.0.1:8080/files/blob.bin",
    ]);
    assert!(ok && out == "200", "HEAD: {out}");
    for bad in [
        "files/../ironic.toml",
        "files/%2e%2e/ironic.toml",
        "files/.hidden",
        "files/nope",
    ] {
        let (_, code) = ns.exec(&[
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--path-as-is",
            &format!("http://10.99.0.1:8080/{bad}"),
        ]);
        assert!(code == "400" || code == "404", "{bad}: {code}");
    }
    let (_, script) = ns.exec(&[
        "curl",
        "-sS",
        "http://10.99.0.1:8080/ipxe/52-54-00-00-00-99",
    ]);
    assert!(
        script.contains("not a port of an enrolled node"),
        "{script}"
    );
    // /metrics counted the transfers, the bytes and the HTTP requests by result.
    let text = metrics_text(&ib);
    let tftp = |result| {
        sample(&text, "ironbox_tftp_transfers_total", &[("result", result)]).unwrap_or(0.0)
    };
    assert_eq!(tftp("completed"), 2.0, "{text}");
    assert_eq!(tftp("not_found"), 3.0, "{text}");
    let undionly = std::fs::metadata("/usr/lib/ipxe/undionly.kpxe")
        .unwrap()
        .len() as f64;
    let sent = sample(&text, "ironbox_tftp_sent_bytes_total", &[]).unwrap();
    assert!(sent > undionly && sent < undionly + 4096.0, "{sent} {text}");
    let http = |result| {
        sample(
            &text,
            "ironbox_http_boot_requests_total",
            &[("result", result)],
        )
        .unwrap_or(0.0)
    };
    // 206, 200, HEAD 200 and the unknown MAC's script (an iPXE script saying why).
    assert_eq!(http("served"), 4.0, "{text}");
    assert_eq!(
        http("not_found") + http("bad_request") + http("refused"),
        4.0,
        "{text}"
    );
    // A node with a ramdisk instance gets its kernel and ramdisk in its script.
    let mac = "52:54:00:00:00:99";
    let u = enroll(&ib, mac);
    ib.patch(&format!("/v1/nodes/{u}"), json!([{"op": "add", "path": "/instance_info", "value": {"kernel": "vmlinuz", "ramdisk": "initrd.img"}}]));
    for (verb, want) in [
        ("manage", "manageable"),
        ("provide", "available"),
        ("active", "active"),
    ] {
        assert_eq!(
            ib.put(
                &format!("/v1/nodes/{u}/states/provision"),
                json!({"target": verb})
            )
            .status,
            202
        );
        ib.wait_state(&u, want, 30);
    }
    let (_, script) = ns.exec(&[
        "curl",
        "-sS",
        "http://10.99.0.1:8080/ipxe/52-54-00-00-00-99",
    ]);
    assert!(
        script.contains("kernel http://10.99.0.1:8080/files/vmlinuz initrd=ramdisk")
            && script.contains("--name ramdisk http://10.99.0.1:8080/files/initrd.img"),
        "{script}"
    );
}

/// PXE-boot a QEMU machine from ironbox alone (DHCP, TFTP, HTTP): firmware → iPXE →
/// per-node script → test kernel + ramdisk → ramdisk DHCP → HTTP fetch of a marker.
fn qemu_boot(firmware: &str) {
    let (ok, out) = sh(Command::new("bash").arg(lab("setup.sh")));
    assert!(ok, "tests/lab/setup.sh failed: {out}");
    let labdir = std::env::var("IRONBOX_LAB_DIR").unwrap_or_else(|_| "/tmp/ironbox-lab".into());
    let ns = Netns::up(1);
    let root = tempfile::tempdir().unwrap();
    std::fs::copy(
        Path::new(&labdir).join("kernel/vmlinuz"),
        root.path().join("vmlinuz"),
    )
    .expect("lab kernel");
    let (ok, out) = sh(Command::new("bash")
        .arg(lab("initramfs.sh"))
        .arg(root.path().join("initrd.img")));
    assert!(ok, "{out}");
    let marker = format!("ironbox-netboot-{firmware}-{}", std::process::id());
    std::fs::write(root.path().join("marker.txt"), &marker).unwrap();
    let ib = Ironbox::start_in_netns(&ns.name, &boot_config("full", root.path()));
    let mac = "52:54:00:99:00:10";
    let u = enroll(&ib, mac);
    ib.patch(&format!("/v1/nodes/{u}"), json!([{"op": "add", "path": "/instance_info", "value": {
        "kernel": "vmlinuz", "ramdisk": "initrd.img",
        "ramdisk_kernel_arguments": "console=ttyS0,115200n8 panic=-1 lab.url=http://10.99.0.1:8080/files/marker.txt"}}]));
    for (verb, want) in [
        ("manage", "manageable"),
        ("provide", "available"),
        ("active", "active"),
    ] {
        assert_eq!(
            ib.put(
                &format!("/v1/nodes/{u}/states/provision"),
                json!({"target": verb})
            )
            .status,
            202
        );
        ib.wait_state(&u, want, 30);
    }
    let serial = root.path().join("serial.log");
    let vm = format!("{}-{firmware}", ns.name);
    let (ok, out) = sh(Command::new("bash").arg(lab("vm.sh")).args([
        "start",
        &ns.name,
        &vm,
        "tap0",
        mac,
        firmware,
        serial.to_str().unwrap(),
    ]));
    assert!(ok, "{out}");
    let started = Instant::now();
    let (ok, _) = sh(Command::new("bash")
        .arg(lab("vm.sh"))
        .args(["wait", &vm, "120"]));
    let _ = sh(Command::new("bash").arg(lab("vm.sh")).args(["stop", &vm]));
    let log = std::fs::read_to_string(&serial).unwrap_or_default();
    assert!(
        ok,
        "VM did not finish in 120 s; serial:\n{log}\nironbox:\n{}",
        ib.log()
    );
    assert!(
        log.contains(&format!("LAB-MARKER: {marker}")) && log.contains("LAB-DONE"),
        "serial:\n{log}\nironbox:\n{}",
        ib.log()
    );
    let ilog = ib.log();
    // QEMU's NIC ROM is iPXE already: it asks DHCP as iPXE and goes straight to HTTP.
    for step in ["DHCP reply", "iPXE script requested", "file served"] {
        assert!(
            ilog.contains(step),
            "{step} missing from the ironbox log:\n{ilog}"
        );
    }
    eprintln!(
        "{firmware} netboot to marker in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn qemu_bios_pxe_boot() {
    qemu_boot("bios");
}

#[test]
fn qemu_uefi_pxe_boot() {
    qemu_boot("uefi");
}
