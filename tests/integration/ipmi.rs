//! The `ipmi` hardware type against OpenIPMI's ipmi_sim on loopback: a real RMCP+ BMC whose
//! chassis_control program keeps power and boot device in files, so the test can see what
//! the BMC was told and change things behind ironbox's back (with ipmitool).

use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::harness::{wait_until, Ironbox};

pub struct IpmiSim {
    pub port: u16,
    pub dir: tempfile::TempDir,
    child: Child,
}

impl IpmiSim {
    pub fn start() -> IpmiSim {
        Self::start_with("")
    }

    /// `mc_config` is added to the BMC's section of lan.conf (e.g. a `sol` line).
    pub fn start_with(mc_config: &str) -> IpmiSim {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let script = dir.path().join("chassis.sh");
        std::fs::copy(
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/lab/ipmi-chassis.sh"),
            &script,
        )
        .unwrap();
        Command::new("chmod")
            .arg("+x")
            .arg(&script)
            .status()
            .unwrap();
        std::fs::write(dir.path().join("lan.conf"), format!(
            "name \"bmc\"\nset_working_mc 0x20\n  startlan 1\n    addr 127.0.0.1 {port}\n    priv_limit admin\n    allowed_auths_callback none md2 md5 straight\n    allowed_auths_user none md2 md5 straight\n    allowed_auths_operator none md2 md5 straight\n    allowed_auths_admin none md2 md5 straight\n    guid a123456789abcdefa123456789abcdef\n  endlan\n  chassis_control \"{}\"\n  user 1 true \"\" \"unused\" user 10 none md2 md5 straight\n  user 2 true \"admin\" \"password\" admin 10 none md2 md5 straight\n{mc_config}",
            script.display())).unwrap();
        std::fs::write(dir.path().join("node.emu"), "mc_setbmc 0x20\nmc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr\nsel_enable 0x20 1000 0x0a\nmc_enable 0x20\n").unwrap();
        std::fs::create_dir_all(dir.path().join("state")).unwrap();
        let log = std::fs::File::create(dir.path().join("ipmi_sim.log")).unwrap();
        let child = Command::new("ipmi_sim")
            .arg("-c")
            .arg(dir.path().join("lan.conf"))
            .arg("-f")
            .arg(dir.path().join("node.emu"))
            .arg("-s")
            .arg(dir.path().join("state"))
            .arg("-n")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("ipmi_sim (Debian package openipmi, installed by tests/lab/setup.sh)");
        let sim = IpmiSim { port, dir, child };
        let up = wait_until(Duration::from_secs(10), || {
            sim.ipmitool(&["chassis", "power", "status"])
                .0
                .then_some(())
        });
        assert!(up.is_some(), "ipmi_sim did not come up");
        sim
    }

    pub fn ipmitool(&self, args: &[&str]) -> (bool, String) {
        let out = Command::new("ipmitool")
            .args([
                "-I",
                "lanplus",
                "-H",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "admin",
                "-P",
                "password",
                "-C",
                "3",
            ])
            .args(args)
            .output()
            .expect("ipmitool");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }

    pub fn file(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name))
            .unwrap_or_default()
            .trim()
            .to_string()
    }

    pub fn driver_info(&self) -> Value {
        json!({"ipmi_address": "127.0.0.1", "ipmi_port": self.port, "ipmi_username": "admin", "ipmi_password": "password"})
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().into()
    }
}

impl Drop for IpmiSim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ipmi_node(ib: &Ironbox, di: Value) -> String {
    let n = ib.post("/v1/nodes", json!({"driver": "ipmi", "driver_info": di}));
    assert_eq!(n.status, 201, "{}", n.body);
    assert_eq!(n.body["power_interface"], "ipmitool");
    if !n.body["driver_info"]["ipmi_password"].is_null() {
        assert_eq!(n.body["driver_info"]["ipmi_password"], "******");
    }
    n.body["uuid"].as_str().unwrap().to_string()
}

/// Power changes go through the real `baremetal` CLI.
fn power(ib: &Ironbox, u: &str, target: &str) {
    ib.cli_power(u, target);
}

#[test]
fn power_and_boot_device_over_rmcp() {
    let bmc = IpmiSim::start();
    let ib = Ironbox::start();
    let u = ipmi_node(&ib, bmc.driver_info());
    let v = ib.cli_json(&["node", "validate", &u]);
    for iface in ["power", "management"] {
        let row = v
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["Interface"] == iface);
        assert_eq!(row.map(|r| r["Result"].clone()), Some(json!(true)), "{v}");
    }
    // manage = verify: the BMC answers and the power state is read.
    assert_eq!(
        ib.put(
            &format!("/v1/nodes/{u}/states/provision"),
            json!({"target": "manage"})
        )
        .status,
        202
    );
    let n = ib.wait_state(&u, "manageable", 30);
    assert_eq!(n["power_state"], "power off");
    power(&ib, &u, "power on");
    assert_eq!(bmc.file("power"), "1");
    assert_eq!(
        ib.get(&format!("/v1/nodes/{u}")).body["power_state"],
        "power on"
    );
    power(&ib, &u, "rebooting");
    assert_eq!(bmc.file("power"), "1");
    power(&ib, &u, "power off");
    assert_eq!(bmc.file("power"), "0");
    assert_eq!(
        ib.get(&format!("/v1/nodes/{u}")).body["power_state"],
        "power off"
    );
    // Boot device reaches the BMC.
    ib.cli_ok(&["node", "boot", "device", "set", &u, "pxe", "--persistent"]);
    assert_eq!(bmc.file("boot"), "pxe");
    assert_eq!(
        ib.cli_json(&["node", "boot", "device", "show", &u])["boot_device"],
        "pxe"
    );
    ib.cli_ok(&["node", "boot", "device", "set", &u, "disk"]);
    assert_eq!(
        bmc.file("boot"),
        "default",
        "ipmi_sim reports a disk boot as 'default'"
    );
    // ipmi_sim does not implement Chassis Control 4 (diagnostic interrupt): the refusal
    // must come back as a clear error naming the command and the completion code.
    let r = ib.put(&format!("/v1/nodes/{u}/management/inject_nmi"), json!({}));
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.fault()
            .contains("rejected Chassis Control with completion code 0xcc"),
        "{}",
        r.fault()
    );
    assert!(!ib.log().contains("password\""), "no password in the log");
    let _ = bmc.path();
}

#[test]
fn wrong_credentials_and_unreachable_bmcs_fail_clearly() {
    let bmc = IpmiSim::start();
    let ib = Ironbox::start_with("[ipmi]\ncommand_retry_timeout = 3\ncommand_timeout_ms = 500\n");
    let mut di = bmc.driver_info();
    di["ipmi_password"] = json!("wrong");
    let u = ipmi_node(&ib, di);
    ib.cli_ok(&["node", "manage", &u]);
    ib.wait_state(&u, "enroll", 30);
    let n = ib.cli_json(&["node", "show", &u]);
    let err = n["last_error"].as_str().unwrap_or_default().to_string();
    assert!(err.contains("authentication failed"), "{err}");
    assert!(
        !err.contains("wrong"),
        "the password leaked into last_error: {err}"
    );

    let dead = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let u2 = ipmi_node(
        &ib,
        json!({"ipmi_address": "127.0.0.1", "ipmi_port": dead, "ipmi_username": "admin", "ipmi_password": "password"}),
    );
    let start = Instant::now();
    power(&ib, &u2, "power on");
    let took = start.elapsed();
    let n = ib.get(&format!("/v1/nodes/{u2}")).body;
    assert!(
        n["last_error"]
            .as_str()
            .unwrap_or_default()
            .contains("not reachable")
            || n["last_error"]
                .as_str()
                .unwrap_or_default()
                .contains("did not answer"),
        "{n}"
    );
    assert!(
        took < Duration::from_secs(10),
        "unreachable BMC took {took:?} (bound: 3 s)"
    );
}

#[test]
fn bad_driver_info_is_refused() {
    let ib = Ironbox::start();
    let cases = [
        (json!({}), "Missing the following IPMI credentials"),
        (
            json!({"ipmi_address": "127.0.0.1", "ipmi_port": "abc"}),
            "IPMI port is not an integer",
        ),
        (
            json!({"ipmi_address": "127.0.0.1", "ipmi_cipher_suite": "17"}),
            "Unsupported IPMI cipher suite 17",
        ),
        (
            json!({"ipmi_address": "127.0.0.1", "ipmi_priv_level": "ROOT"}),
            "Invalid privilege level",
        ),
        (
            json!({"ipmi_address": "127.0.0.1", "ipmi_bridging": "single"}),
            "ipmi_bridging",
        ),
    ];
    for (di, msg) in cases {
        let u = ipmi_node(&ib, di.clone());
        let v = ib.get(&format!("/v1/nodes/{u}/validate")).body;
        assert_eq!(v["power"]["result"], false, "{di}");
        assert!(
            v["power"]["reason"]
                .as_str()
                .unwrap_or_default()
                .contains(msg),
            "{di}: {v}"
        );
        let r = ib.put(
            &format!("/v1/nodes/{u}/states/power"),
            json!({"target": "power on"}),
        );
        assert_eq!(r.status, 400, "{di}");
    }
    let props = ib.get("/v1/drivers/ipmi/properties").body;
    assert!(props["ipmi_address"].as_str().unwrap().contains("Required"));
}

#[test]
fn power_sync_sees_out_of_band_changes() {
    let bmc = IpmiSim::start();
    // Record mode: the hardware's state wins.
    let ib = Ironbox::start_with(
        "[conductor]\nsync_power_state_interval = 1\nforce_power_state_during_sync = false\n",
    );
    let u = ipmi_node(&ib, bmc.driver_info());
    assert_eq!(
        ib.put(
            &format!("/v1/nodes/{u}/states/provision"),
            json!({"target": "manage"})
        )
        .status,
        202
    );
    ib.wait_state(&u, "manageable", 30);
    assert!(bmc.ipmitool(&["chassis", "power", "on"]).0);
    let seen = wait_until(Duration::from_secs(15), || {
        (ib.get(&format!("/v1/nodes/{u}")).body["power_state"] == "power on").then_some(())
    });
    assert!(
        seen.is_some(),
        "power sync never saw the out-of-band power on"
    );
    drop(ib);
    // Force mode (Ironic's default): the recorded state is pushed back onto the hardware.
    let ib = Ironbox::start_with("[conductor]\nsync_power_state_interval = 1\n");
    let u = ipmi_node(&ib, bmc.driver_info());
    assert_eq!(
        ib.put(
            &format!("/v1/nodes/{u}/states/provision"),
            json!({"target": "manage"})
        )
        .status,
        202
    );
    ib.wait_state(&u, "manageable", 30);
    power(&ib, &u, "power off");
    assert!(bmc.ipmitool(&["chassis", "power", "on"]).0);
    let off = wait_until(Duration::from_secs(15), || {
        (bmc.file("power") == "0").then_some(())
    });
    assert!(
        off.is_some(),
        "power sync never switched the machine back off"
    );
}
