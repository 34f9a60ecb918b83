//! End to end, the way a user runs it: a QEMU machine (TCG) with a blank disk in a network
//! namespace, its BMC an `ipmi_sim` whose chassis control starts and stops QEMU and honours
//! the boot device (tests/lab/bmc-vm.sh), or sushy-tools' Redfish emulator, ironbox as the
//! only DHCP/TFTP/HTTP server, the deploy ramdisk built by `ironbox ramdisk build` or a
//! stock ironic-python-agent one (tests/lab/ipa-ramdisk.sh), and every step driven with the real
//! `baremetal` CLI: enroll, manage, provide (cleaning through the agent), deploy a
//! whole-disk image built by the test, see the machine boot it, undeploy (cleaning erases
//! the disk's metadata), available. Needs root, tests/lab/setup.sh and the test venv.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::e2e_console::{console_in_browser, Console};
use crate::harness::{lab, wait_until, Ironbox, Netns};

pub(crate) fn labdir() -> PathBuf {
    PathBuf::from(std::env::var("IRONBOX_LAB_DIR").unwrap_or_else(|_| "/tmp/ironbox-lab".into()))
}

pub(crate) fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run command");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}

/// A verb with `--wait` through the CLI: its wall time; on failure, everything worth seeing.
fn wait_for_verb(ib: &Ironbox, verb: &str, uuid: &str, ctx: impl Fn() -> String) -> f64 {
    let t = Instant::now();
    let (ok, _, err) = ib.cli(&["node", verb, uuid, "--wait", "600"]);
    assert!(ok, "{verb} failed: {err}\n{}", ctx());
    t.elapsed().as_secs_f64()
}

#[derive(Clone, Copy, PartialEq)]
enum BmcKind {
    Ipmi,
    Redfish,
}

/// The QEMU machine behind a BMC.
struct VmSpec {
    name: String,
    mac: &'static str,
    fw: &'static str,
    disk: PathBuf,
    mem_mib: u32,
}

/// Which deploy ramdisk the machine boots.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Agent {
    /// `ironbox ramdisk build`: ironbox's own agent (the default deploy_kernel/ramdisk).
    Builtin,
    /// A stock ironic-python-agent from PyPI in a Debian ramdisk (tests/lab/ipa-ramdisk.sh),
    /// named by the node's driver_info, as an Ironic user would.
    Ipa,
}

/// A simulated BMC in the namespace whose chassis is the QEMU machine: `ipmi_sim`, or
/// sushy-tools' Redfish emulator (tests/lab/redfish_vm.py); both use tests/lab/bmc-vm.sh.
struct Bmc {
    dir: tempfile::TempDir,
    pid: u32,
    /// The SOL serial relay (ipmi only).
    relay: Option<std::process::Child>,
    name: String,
    /// `baremetal node create` arguments for this BMC.
    driver_args: Vec<String>,
}

impl Bmc {
    /// The operator pressing the power button of a machine set to boot from the network,
    /// as before discovery: no BMC call from ironbox.
    fn press_power_pxe(&self) {
        let script = self.dir.path().join("chassis.sh");
        run(Command::new(&script).args(["set", "boot", "pxe", "power", "1"]));
    }

    fn start(ns: &Netns, kind: BmcKind, vm: &VmSpec) -> Bmc {
        let VmSpec {
            name,
            mac,
            fw,
            disk,
            mem_mib,
        } = vm;
        let dir = tempfile::Builder::new()
            .prefix("ironbox-bmc-")
            .tempdir()
            .unwrap();
        let d = dir.path();
        std::fs::copy(lab("bmc-vm.sh"), d.join("chassis.sh")).unwrap();
        run(Command::new("chmod").arg("+x").arg(d.join("chassis.sh")));
        std::fs::write(
            d.join("vm.conf"),
            format!(
                "LAB={}\nNS={}\nNAME={name}\nTAP=tap0\nMAC={mac}\nFW={fw}\nDISK={}\nIRONBOX_LAB_DIR={}\nVM_MEM={mem_mib}\n",
                lab("").display(),
                ns.name,
                disk.display(),
                labdir().display()
            ),
        )
        .unwrap();
        let log = std::fs::File::create(d.join("bmc-process.log")).unwrap();
        let mut relay = None;
        let (child, driver_args) = match kind {
            BmcKind::Ipmi => {
                let port = 9623;
                // SOL: ipmi_sim's serial device is a relay in the namespace that each
                // power-on's QEMU connects its COM1 to (tests/lab/serial-relay.py).
                let (serial_port, vm_serial_port) = (9624, 9625);
                let mut conf = std::fs::read_to_string(d.join("vm.conf")).unwrap();
                conf.push_str(&format!("VM_SERIAL_TCP={vm_serial_port}\n"));
                std::fs::write(d.join("vm.conf"), conf).unwrap();
                let relay_log = std::fs::File::create(d.join("serial-relay.log")).unwrap();
                relay = Some(
                    Command::new("ip")
                        .args(["netns", "exec", &ns.name, "python3"])
                        .arg(lab("serial-relay.py"))
                        .args([serial_port.to_string(), vm_serial_port.to_string()])
                        .stdout(relay_log.try_clone().unwrap())
                        .stderr(relay_log)
                        .spawn()
                        .expect("python3"),
                );
                std::fs::write(d.join("lan.conf"), format!(
                    "name \"{name}\"\nset_working_mc 0x20\n  startlan 1\n    addr 127.0.0.1 {port}\n    priv_limit admin\n    allowed_auths_callback none md2 md5 straight\n    allowed_auths_user none md2 md5 straight\n    allowed_auths_operator none md2 md5 straight\n    allowed_auths_admin none md2 md5 straight\n    guid a123456789abcdefa123456789abcdef\n  endlan\n  chassis_control \"{}\"\n  user 1 true \"\" \"unused\" user 10 none md2 md5 straight\n  user 2 true \"admin\" \"password\" admin 10 none md2 md5 straight\n  sol \"tcp:127.0.0.1:{serial_port}\" 115200\n",
                    d.join("chassis.sh").display())).unwrap();
                std::fs::write(d.join("node.emu"), "mc_setbmc 0x20\nmc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr\nsel_enable 0x20 1000 0x0a\nmc_enable 0x20\n").unwrap();
                std::fs::create_dir_all(d.join("state")).unwrap();
                let child = Command::new("ip")
                    .args(["netns", "exec", &ns.name, "ipmi_sim", "-n", "-c"])
                    .arg(d.join("lan.conf"))
                    .arg("-f")
                    .arg(d.join("node.emu"))
                    .arg("-s")
                    .arg(d.join("state"))
                    .stdout(log.try_clone().unwrap())
                    .stderr(log)
                    .spawn()
                    .expect("ipmi_sim (package openipmi)");
                let args = [
                    "--driver",
                    "ipmi",
                    "--driver-info",
                    "ipmi_address=127.0.0.1",
                    "--driver-info",
                    &format!("ipmi_port={port}"),
                    "--driver-info",
                    "ipmi_username=admin",
                    "--driver-info",
                    "ipmi_password=password",
                ]
                .map(str::to_string)
                .to_vec();
                (child, args)
            }
            BmcKind::Redfish => {
                let python = run(Command::new("bash").arg(lab("sushy.sh")));
                let python = python.lines().last().unwrap_or_default().trim().to_string();
                let system = "a4d1e4c2-0e2c-4f55-9c1a-00000000e2e0";
                std::fs::write(d.join("emulator.conf"), format!(
                    "SUSHY_EMULATOR_STATE_DIR = \"{}\"\nSUSHY_EMULATOR_FAKE_SYSTEMS = [{{\"uuid\": \"{system}\", \"name\": \"{name}\", \"power_state\": \"Off\", \"external_notifier\": False, \"nics\": [{{\"mac\": \"{mac}\", \"ip\": \"10.99.0.100\"}}]}}]\n",
                    d.join("state").display())).unwrap();
                std::fs::write(
                    d.join("chassis.json"),
                    serde_json::json!({name: d.join("chassis.sh")}).to_string(),
                )
                .unwrap();
                let child = Command::new("ip")
                    .args(["netns", "exec", &ns.name, &python])
                    .arg(lab("redfish_vm.py"))
                    .arg("--config")
                    .arg(d.join("emulator.conf"))
                    .args(["-i", "127.0.0.1", "-p", "8000"])
                    .env("IRONBOX_REDFISH_CHASSIS", d.join("chassis.json"))
                    .stdout(log.try_clone().unwrap())
                    .stderr(log)
                    .spawn()
                    .expect("sushy-emulator");
                let args = [
                    "--driver",
                    "redfish",
                    "--driver-info",
                    "redfish_address=http://127.0.0.1:8000",
                    "--driver-info",
                    &format!("redfish_system_id=/redfish/v1/Systems/{system}"),
                    "--driver-info",
                    "redfish_username=admin",
                    "--driver-info",
                    "redfish_password=password",
                ]
                .map(str::to_string)
                .to_vec();
                (child, args)
            }
        };
        // Ready when it answers a status query.
        let probe: Vec<&str> = match kind {
            BmcKind::Ipmi => vec![
                "ipmitool",
                "-I",
                "lanplus",
                "-H",
                "127.0.0.1",
                "-p",
                "9623",
                "-U",
                "admin",
                "-P",
                "password",
                "chassis",
                "power",
                "status",
            ],
            BmcKind::Redfish => vec![
                "curl",
                "-sf",
                "-o",
                "/dev/null",
                "http://127.0.0.1:8000/redfish/v1/Systems",
            ],
        };
        let up = wait_until(Duration::from_secs(20), || {
            Command::new("ip")
                .args(["netns", "exec", &ns.name])
                .args(&probe)
                .output()
                .is_ok_and(|o| o.status.success())
                .then_some(())
        });
        assert!(
            up.is_some(),
            "the BMC did not come up: {}",
            std::fs::read_to_string(d.join("bmc-process.log")).unwrap_or_default()
        );
        Bmc {
            pid: child.id(),
            relay,
            dir,
            name: name.to_string(),
            driver_args,
        }
    }

    /// Every serial log of this machine's power-ons, in order.
    fn serial(&self) -> String {
        let mut out = String::new();
        for n in 1..100 {
            match std::fs::read(self.dir.path().join(format!("serial-{n}.log"))) {
                Ok(b) => {
                    out.push_str(&format!("\n===== power-on {n}\n"));
                    out.push_str(&String::from_utf8_lossy(&b));
                }
                Err(_) => break,
            }
        }
        out
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("bmc.log")).unwrap_or_default()
    }
}

impl Drop for Bmc {
    fn drop(&mut self) {
        unsafe {
            libc::kill(self.pid as i32, libc::SIGTERM);
        }
        if let Some(mut r) = self.relay.take() {
            let _ = r.kill();
            let _ = r.wait();
        }
        let _ = Command::new("bash")
            .arg(lab("vm.sh"))
            .args(["stop", &self.name])
            .output();
    }
}

/// The first `n` bytes of a qcow2 disk, as raw.
fn disk_head(disk: &Path, n: usize) -> Vec<u8> {
    let raw = disk.with_extension("raw");
    run(Command::new("qemu-img")
        .args(["convert", "-O", "raw"])
        .arg(disk)
        .arg(&raw));
    let mut b = Vec::with_capacity(n);
    std::io::Read::read_to_end(
        &mut std::io::Read::take(std::fs::File::open(&raw).unwrap(), n as u64),
        &mut b,
    )
    .unwrap();
    let _ = std::fs::remove_file(&raw);
    b
}

fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool, ctx: impl Fn() -> String) {
    let done = wait_until(Duration::from_secs(secs), || f().then_some(()));
    assert!(done.is_some(), "timed out waiting for {what}\n{}", ctx());
}

/// How the machine becomes a node.
#[derive(Clone, Copy, PartialEq)]
enum Enroll {
    /// `baremetal node create` and `port create`, as an operator types them.
    ByHand,
    /// Powered on unknown on a discovery network: inspected by the agent (the deploy
    /// ramdisk's agent doubles as the inspection ramdisk), enrolled by ironbox, then given
    /// its BMC credentials with `baremetal node set` (issue #14).
    Discovered,
}

fn deploy_cycle(firmware: &'static str, kind: BmcKind, agent: Agent, enroll: Enroll) {
    run(Command::new("bash").arg(lab("setup.sh")));
    let ns = Netns::up(1);
    let root = tempfile::Builder::new()
        .prefix("ironbox-e2e-")
        .tempdir()
        .unwrap();
    let http = root.path().join("http");
    std::fs::create_dir_all(&http).unwrap();
    // The deploy ramdisk, built from the lab's Debian kernel.
    let (mem_mib, ramdisk_args, kernel_file) = match agent {
        Agent::Builtin => {
            let k = labdir().join("kernel");
            run(Command::new(crate::harness::bin())
                .args(["ramdisk", "build", "--kernel"])
                .arg(k.join("vmlinuz"))
                .arg("--modules")
                .arg(k.join("modules"))
                .arg("--out")
                .arg(&http));
            (512, vec![], "ironbox-agent.kernel")
        }
        Agent::Ipa => {
            let built = run(Command::new("bash").arg(lab("ipa-ramdisk.sh")));
            let mut files = built.lines().map(str::trim);
            for (from, to) in files.by_ref().take(2).zip(["ipa.kernel", "ipa.initramfs"]) {
                std::fs::hard_link(from, http.join(to))
                    .or_else(|_| std::fs::copy(from, http.join(to)).map(|_| ()))
                    .unwrap();
            }
            // systemd, Python and IPA unpacked in RAM.
            let args = [
                "--driver-info",
                "deploy_kernel=ipa.kernel",
                "--driver-info",
                "deploy_ramdisk=ipa.initramfs",
            ];
            (1536, args.map(str::to_string).to_vec(), "ipa.kernel")
        }
    };
    // The user's image, and a blank disk for the machine.
    let marker = format!("e2e-{firmware}-{}", std::process::id());
    run(Command::new("bash")
        .arg(lab("disk-image.sh"))
        .arg(http.join("disk.img"))
        .arg(&marker));
    let sha = run(Command::new("sha256sum").arg(http.join("disk.img")));
    let sha = sha.split_whitespace().next().unwrap().to_string();
    let disk = root.path().join("disk.qcow2");
    // 5 GiB, sparse: the agent's default root disk is the smallest of at least 4 GiB.
    run(Command::new("qemu-img")
        .args(["create", "-q", "-f", "qcow2"])
        .arg(&disk)
        .arg("5G"));
    let mac = "52:54:00:e2:e0:01";
    let name = format!("{}-{firmware}", ns.name);
    // A new machine: no UEFI boot entries left from an earlier run.
    let nvram = labdir().join("vms").join(&name).join("vars.fd");
    let _ = std::fs::remove_file(&nvram);
    let bmc = Bmc::start(
        &ns,
        kind,
        &VmSpec {
            name: name.clone(),
            mac,
            fw: firmware,
            disk: disk.clone(),
            mem_mib,
        },
    );

    let ib = Ironbox::start_in_netns(
        &ns.name,
        &format!(
            "[dhcp]\ninterface = \"br0\"\nmode = \"full\"\nrange_start = \"10.99.0.100\"\nrange_end = \"10.99.0.110\"\nlease_time = 600\nipv6_ra = true\n[pxe]\nhttp_root = \"{}\"\nkernel_append_params = \"console=ttyS0,115200n8 panic=-1\"\n[conductor]\ndeploy_callback_timeout = 300\nclean_callback_timeout = 300\n{}",
            http.display(),
            match (enroll, agent) {
                (Enroll::ByHand, _) => "",
                (Enroll::Discovered, Agent::Builtin) =>
                    "[auto_discovery]\nenabled = true\ndriver = \"ipmi\"\n",
                (Enroll::Discovered, Agent::Ipa) =>
                    "[auto_discovery]\nenabled = true\ndriver = \"ipmi\"\n[inspector]\nkernel = \"ipa.kernel\"\nramdisk = \"ipa.initramfs\"\n",
            }
        ),
    );
    let ctx = || {
        format!(
            "serial:{}\nbmc:\n{}\nironbox:\n{}",
            bmc.serial(),
            bmc.log(),
            ib.log()
        )
    };
    let started = Instant::now();
    let node_name = format!("e2e-{firmware}");
    let capabilities = format!("capabilities=boot_mode:{firmware}");
    let uuid = match enroll {
        Enroll::ByHand => {
            let mut create: Vec<&str> = vec![
                "node",
                "create",
                "--name",
                &node_name,
                "--property",
                &capabilities,
            ];
            create.extend(bmc.driver_args.iter().map(String::as_str));
            create.extend(ramdisk_args.iter().map(String::as_str));
            let node = ib.cli_json(&create);
            let uuid = node["uuid"].as_str().unwrap().to_string();
            ib.cli_ok(&["port", "create", mac, "--node", &uuid]);
            uuid
        }
        Enroll::Discovered => {
            let uuid = crate::e2e_discovery::discovered_by_hand(
                &ib,
                &|| bmc.press_power_pxe(),
                &name,
                mac,
                mem_mib,
                &ctx,
            );
            let mut set: Vec<&str> = vec![
                "node",
                "set",
                &uuid,
                "--name",
                &node_name,
                "--property",
                &capabilities,
            ];
            set.extend(bmc.driver_args.iter().map(String::as_str));
            set.extend(ramdisk_args.iter().map(String::as_str));
            if kind == BmcKind::Redfish {
                // Discovered as `ipmi`: a new hardware type needs its own interfaces.
                set.push("--reset-interfaces");
            }
            ib.cli_ok(&set);
            if kind == BmcKind::Redfish {
                // In-band inspection, so the machine's agent comes back below. (A separate
                // PATCH: in the same one as the driver, `agent` equals the old value, so it
                // is not "changed" and is reset, as in Ironic.)
                ib.cli_ok(&["node", "set", &uuid, "--inspect-interface", "agent"]);
            }
            uuid
        }
    };
    ib.cli_ok(&["node", "manage", &uuid, "--wait", "60"]);
    if enroll == Enroll::Discovered && kind == BmcKind::Redfish {
        // The discovered machine booted again (in-band inspection through its BMC now) is
        // found by its MAC and updated: still one node.
        let t = Instant::now();
        ib.cli_ok(&["node", "inspect", &uuid, "--wait", "600"]);
        let list = ib.cli_json(&["node", "list"]);
        assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}\n{}", ctx());
        let n = ib.cli_json(&["node", "show", &uuid]);
        assert_eq!(n["provision_state"], "manageable", "{n}");
        assert_eq!(n["inspect_interface"], "agent", "{n}");
        assert_eq!(n["properties"]["memory_mb"], mem_mib, "{n}");
        eprintln!(
            "{firmware}: the discovered machine inspected again in {:.1} s, same node",
            t.elapsed().as_secs_f64()
        );
    }
    // Over IPMI, the serial console (native SOL) watches every boot from here on.
    let t = Instant::now();
    let console = (kind == BmcKind::Ipmi).then(|| Console::open(&ib, &ns.name, &uuid, root.path()));
    if console.is_some() {
        eprintln!(
            "{firmware}: console enabled and connected in {:.1} s",
            t.elapsed().as_secs_f64()
        );
    }
    // The BMC through the CLI: validate, boot device, power on and off.
    let validate = ib.cli_json(&["node", "validate", &uuid]);
    for iface in ["power", "management", "boot"] {
        let row = validate
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["Interface"] == iface)
            .cloned()
            .unwrap_or_default();
        assert_eq!(row["Result"], true, "{iface}: {validate}");
    }
    ib.cli_ok(&["node", "boot", "device", "set", &uuid, "pxe"]);
    let dev = ib.cli_json(&["node", "boot", "device", "show", &uuid]);
    assert_eq!(dev["boot_device"], "pxe", "{dev}");
    let vm_state = || {
        run(Command::new("bash")
            .arg(lab("vm.sh"))
            .args(["status", &name]))
        .trim()
        .to_string()
    };
    // Power changes are asynchronous (202): wait for the node and the machine to agree.
    let power_state = || ib.cli_json(&["node", "show", &uuid])["power_state"].clone();
    ib.cli_ok(&["node", "power", "on", &uuid]);
    wait_for(
        "power on to start the machine",
        60,
        || power_state() == "power on" && vm_state() == "running",
        ctx,
    );
    ib.cli_ok(&["node", "power", "off", &uuid]);
    wait_for(
        "power off to stop the machine",
        60,
        || power_state() == "power off" && vm_state() == "stopped",
        ctx,
    );
    if agent == Agent::Ipa && firmware == "bios" {
        // Manual cleaning with a step only IPA has: run in the agent after it reported it.
        let t = Instant::now();
        let steps = r#"[{"interface": "deploy", "step": "erase_pstore"}]"#;
        let (ok, _, err) = ib.cli(&[
            "node",
            "clean",
            &uuid,
            "--clean-steps",
            steps,
            "--wait",
            "600",
        ]);
        assert!(ok, "clean failed: {err}\n{}", ctx());
        eprintln!(
            "{firmware}: manual clean (IPA's erase_pstore) took {:.1} s",
            t.elapsed().as_secs_f64()
        );
    }
    // provide = automated cleaning: the agent boots and erases the (blank) disk's metadata.
    let took = wait_for_verb(&ib, "provide", &uuid, ctx);
    eprintln!("{firmware}: provide (cleaning through the agent) took {took:.1} s");

    ib.cli_ok(&[
        "node",
        "set",
        &uuid,
        "--instance-info",
        "image_source=http://10.99.0.1:8080/files/disk.img",
        "--instance-info",
        &format!("image_checksum={sha}"),
    ]);
    let took = wait_for_verb(&ib, "deploy", &uuid, ctx);
    eprintln!("{firmware}: deploy -> active took {took:.1} s");
    let shown = ib.cli_json(&["node", "show", &uuid]);
    assert_eq!(shown["provision_state"], "active");
    report_phases(&ib, &uuid, firmware, took);

    // The machine now boots its disk: the image's own boot code prints the marker.
    let want = format!("IRONBOX-OS: {marker} ({firmware})");
    wait_for(
        "the deployed OS on the serial console",
        120,
        || bmc.serial().contains(&want),
        ctx,
    );
    if let Some(console) = &console {
        // The same boots through SOL and the console's TCP port: the agent's kernel
        // booting, and the deployed image's marker.
        wait_for(
            "the deployed OS on the console's TCP port",
            30,
            || console.text().contains(&want),
            || format!("console:\n{}\n{}", console.text(), ctx()),
        );
        let text = console.text();
        assert!(
            text.contains("Linux version"),
            "no kernel boot messages on the console:\n{text}"
        );
        eprintln!(
            "{firmware}: console over SOL carried {} bytes, with the marker and kernel messages",
            text.len()
        );
        console_in_browser(&ib, &ns.name, &uuid, &want, firmware);
    }
    wait_for(
        "the deployed OS to power off",
        60,
        || {
            run(Command::new("bash")
                .arg(lab("vm.sh"))
                .args(["status", &name]))
            .trim()
                == "stopped"
        },
        ctx,
    );
    let img = std::fs::read(http.join("disk.img")).unwrap();
    let head = disk_head(&disk, img.len());
    let holds = match agent {
        Agent::Builtin => head == img,
        // IPA moves a GPT's backup to the end of the disk (sgdisk -e): that rewrites the
        // protective MBR's table and the primary header (LBA 0 from byte 440, and LBA 1).
        // The boot code and everything after LBA 1 are the image's, byte for byte.
        Agent::Ipa => {
            head[..440] == img[..440]
                && &head[512..520] == b"EFI PART"
                && head[1024..] == img[1024..]
        }
    };
    assert!(holds, "the disk does not hold the image");
    if firmware == "uefi" {
        // install_bootloader registered the image's loader in the machine's NVRAM.
        let label = match agent {
            Agent::Builtin => "ironbox1",
            Agent::Ipa => "ironic1",
        };
        let want: Vec<u8> = label.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let vars = std::fs::read(&nvram).unwrap();
        assert!(
            vars.windows(want.len()).any(|w| w == want),
            "no UEFI boot entry {label} in the machine's NVRAM"
        );
    }

    // undeploy: tear down, then automated cleaning erases the disk's metadata.
    let took = wait_for_verb(&ib, "undeploy", &uuid, ctx);
    eprintln!("{firmware}: undeploy -> available took {took:.1} s");
    let shown = ib.cli_json(&["node", "show", &uuid]);
    assert_eq!(shown["provision_state"], "available", "{}", ctx());
    let head = disk_head(&disk, 2048 * 512 + 512);
    assert!(head[..512].iter().all(|b| *b == 0), "MBR not erased");
    assert!(
        head[2048 * 512..].iter().all(|b| *b == 0),
        "ESP boot sector not erased"
    );

    // The node's timeline tells the story.
    let history = ib
        .get(&format!("/v1/nodes/{uuid}/history?detail=true"))
        .body;
    let events: Vec<String> = history["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            format!(
                "{} {}",
                h["event_type"].as_str().unwrap_or(""),
                h["event"].as_str().unwrap_or("")
            )
        })
        .collect();
    let kernel_get = format!("GET /files/{kernel_file}");
    for want in [
        "→ Ack",
        "iPXE script requested",
        kernel_get.as_str(),
        "GET /files/disk.img",
        "agent_lookup",
        "first heartbeat",
        "write_image",
        "active",
        "erase_devices_metadata",
    ]
    .into_iter()
    .chain((agent == Agent::Ipa && firmware == "bios").then_some("clean step deploy.erase_pstore"))
    {
        assert!(
            events.iter().any(|e| e.contains(want)),
            "{want} not in history: {events:#?}"
        );
    }
    eprintln!(
        "{firmware}: whole cycle {:.1} s; history:\n{}",
        started.elapsed().as_secs_f64(),
        events.join("\n")
    );
}

#[test]
fn qemu_bios_ipmi_deploy() {
    deploy_cycle("bios", BmcKind::Ipmi, Agent::Builtin, Enroll::ByHand);
}

#[test]
fn qemu_uefi_ipmi_deploy() {
    deploy_cycle("uefi", BmcKind::Ipmi, Agent::Builtin, Enroll::ByHand);
}

/// Enrolled by discovery (built-in agent), then given Redfish credentials.
#[test]
fn qemu_bios_redfish_deploy() {
    deploy_cycle("bios", BmcKind::Redfish, Agent::Builtin, Enroll::Discovered);
}

/// The same cycle with a stock ironic-python-agent ramdisk instead of ironbox's own.
#[test]
fn qemu_bios_ipmi_ipa_deploy() {
    deploy_cycle("bios", BmcKind::Ipmi, Agent::Ipa, Enroll::ByHand);
}

/// Discovered by a stock IPA as the inspection ramdisk, over UEFI.
#[test]
fn qemu_uefi_ipmi_ipa_deploy() {
    deploy_cycle("uefi", BmcKind::Ipmi, Agent::Ipa, Enroll::Discovered);
}

/// The deploy's timeline from node history, split into what the machine, its BMC and the
/// agent took and what ironbox itself took. Printed, and appended as one JSON line to
/// $IRONBOX_E2E_PHASES when set (bench/deploy_bench.py aggregates them).
fn report_phases(ib: &Ironbox, uuid: &str, firmware: &str, total: f64) {
    let history = ib
        .get(&format!("/v1/nodes/{uuid}/history?detail=true"))
        .body;
    let events: Vec<(f64, String, String)> = history["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| {
            let t = chrono::DateTime::parse_from_rfc3339(h["created_at"].as_str()?).ok()?;
            Some((
                t.timestamp_micros() as f64 / 1e6,
                h["event_type"].as_str()?.to_string(),
                h["event"].as_str()?.to_string(),
            ))
        })
        .collect();
    let start = events
        .iter()
        .rposition(|(_, kind, _)| kind == "provision_deploy")
        .expect("deploy in history");
    let ev = &events[start..];
    let at = |kind: &str, text: &str| {
        ev.iter()
            .find(|(_, k, e)| k == kind && e.contains(text))
            .map(|(t, _, _)| *t)
            .unwrap_or_else(|| panic!("{kind} {text} not in history: {ev:#?}"))
    };
    let after = |t0: f64, kind: &str, text: &str| {
        ev.iter()
            .find(|(t, k, e)| *t >= t0 && k == kind && e.contains(text))
            .map(|(t, _, _)| *t)
            .unwrap_or_else(|| panic!("{kind} {text} after {t0} not in history: {ev:#?}"))
    };
    let t0 = ev[0].0;
    let step = |name: &str| at("deploy_step", name);
    let deploy_step = step("deploy.deploy");
    let waiting = after(deploy_step, "provision_wait", "");
    let lookup = after(waiting, "agent_lookup", "");
    let hb1 = after(lookup, "agent_heartbeat", "first heartbeat");
    let write = step("deploy.write_image");
    let hb2 = after(write, "agent_heartbeat", "");
    let prepare = step("deploy.prepare_instance_boot");
    let teardown = step("deploy.tear_down_agent");
    let boot = step("deploy.boot_instance");
    let active = after(boot, "provision_done", "active");
    // ironbox alone: accepting the verb, and reacting to each heartbeat.
    let ironbox = (deploy_step - t0) + (write - hb1) + (prepare - hb2);
    let phases = serde_json::json!({
        "firmware": firmware,
        "verb_to_active_s": active - t0,
        "cli_wall_time_s": total,
        "ironbox_orchestration_s": ironbox,
        "verb_to_first_step_s": deploy_step - t0,
        "deploy_step_bmc_reboot_s": waiting - deploy_step,
        "firmware_pxe_ramdisk_boot_to_lookup_s": lookup - waiting,
        "agent_start_lookup_to_heartbeat_s": hb1 - lookup,
        "heartbeat_to_write_image_s": write - hb1,
        "image_write_s": hb2 - write,
        "heartbeat_to_next_step_s": prepare - hb2,
        "prepare_instance_boot_bmc_s": teardown - prepare,
        "tear_down_agent_power_off_s": boot - teardown,
        "boot_instance_bmc_power_on_s": active - boot,
    });
    eprintln!("{firmware}: deploy phases {phases:#}");
    if let Ok(path) = std::env::var("IRONBOX_E2E_PHASES") {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = writeln!(f, "{phases}");
        }
    }
}
