//! The `redfish` hardware type against sushy-tools' Redfish emulator (its fake systems
//! driver, PyPI sushy-tools pinned in tests/lab/sushy.sh) on loopback, with HTTP basic
//! auth, and once over HTTPS with a CA the test makes. tests/lab/sushy_fake.py adds a
//! short power delay, CPU/memory/disk facts and a log of the requests ironbox sent; the
//! test reads the emulator's resources directly (curl) to see what the BMC was told, and
//! changes power behind ironbox's back with a direct Reset.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::harness::{wait_until, Ironbox};

pub(crate) const SYSTEM: &str = "8c3b5a7e-0000-4000-8000-000000000001";
pub(crate) const MAC1: &str = "52:54:00:aa:bb:01";
pub(crate) const MAC2: &str = "52:54:00:aa:bb:02";

/// The venv's python (tests/lab/sushy.sh installs sushy-tools on first use).
fn python() -> String {
    let out = Command::new("bash")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/lab/sushy.sh"))
        .stderr(Stdio::inherit())
        .output()
        .expect("run tests/lab/sushy.sh");
    assert!(out.status.success(), "tests/lab/sushy.sh failed");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("spawn");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub struct Sushy {
    pub port: u16,
    pub dir: tempfile::TempDir,
    /// The CA that signed the emulator's certificate (HTTPS only).
    pub ca: Option<PathBuf>,
    child: Child,
}

impl Sushy {
    pub fn start(tls: bool) -> Sushy {
        Self::start_with(tls, "")
    }

    /// `extra`: more lines for the emulator's config file.
    pub fn start_with(tls: bool, extra: &str) -> Sushy {
        let python = python();
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let hash = bcrypt::hash("password", 4).unwrap();
        std::fs::write(d.join("htpasswd"), format!("admin:{hash}\n")).unwrap();
        std::fs::create_dir_all(d.join("state")).unwrap();
        std::fs::write(
            d.join("emulator.conf"),
            format!(
                r#"SUSHY_EMULATOR_STATE_DIR = "{state}"
SUSHY_EMULATOR_AUTH_FILE = "{dir}/htpasswd"
IRONBOX_POWER_DELAY = 1
IRONBOX_REQUEST_LOG = "{dir}/requests.log"
SUSHY_EMULATOR_FAKE_SYSTEMS = [{{
    "uuid": "{SYSTEM}", "name": "rf-node", "power_state": "Off", "external_notifier": False,
    "nics": [{{"mac": "{MAC1}", "ip": "10.0.0.2"}}, {{"mac": "{MAC2}", "ip": "10.0.0.3"}}],
    "cpus": 2, "memory_gib": 4,
    "disks": [{{"name": "sda", "size_bytes": 21474836480}}, {{"name": "sdb", "size_bytes": 1073741824}}],
}}]
{extra}
"#,
                state = d.join("state").display(),
                dir = d.display()
            ),
        )
        .unwrap();
        let mut ca = None;
        let mut tls_args = vec![];
        if tls {
            let p = |f: &str| d.join(f).display().to_string();
            run(Command::new("openssl").args([
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=ironbox test CA",
                "-keyout",
                &p("ca.key"),
                "-out",
                &p("ca.pem"),
            ]));
            run(Command::new("openssl").args([
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                "/CN=127.0.0.1",
                "-keyout",
                &p("bmc.key"),
                "-out",
                &p("bmc.csr"),
            ]));
            std::fs::write(
                d.join("ext.cnf"),
                "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
            )
            .unwrap();
            run(Command::new("openssl").args([
                "x509",
                "-req",
                "-in",
                &p("bmc.csr"),
                "-CA",
                &p("ca.pem"),
                "-CAkey",
                &p("ca.key"),
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                &p("ext.cnf"),
                "-out",
                &p("bmc.pem"),
            ]));
            ca = Some(d.join("ca.pem"));
            tls_args = vec![
                "--ssl-certificate".to_string(),
                p("bmc.pem"),
                "--ssl-key".to_string(),
                p("bmc.key"),
            ];
        }
        let port = free_port();
        let log = std::fs::File::create(d.join("emulator.log")).unwrap();
        let child = Command::new(&python)
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/lab/sushy_fake.py"
            ))
            .arg("--config")
            .arg(d.join("emulator.conf"))
            .args(["-i", "127.0.0.1", "-p", &port.to_string()])
            .args(&tls_args)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start sushy-emulator");
        let s = Sushy {
            port,
            dir,
            ca,
            child,
        };
        let up = wait_until(Duration::from_secs(30), || s.try_get("/redfish/v1/Systems"));
        assert!(
            up.is_some(),
            "sushy-emulator did not come up: {}",
            std::fs::read_to_string(s.dir.path().join("emulator.log")).unwrap_or_default()
        );
        s
    }

    pub fn address(&self) -> String {
        let scheme = if self.ca.is_some() { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    pub fn driver_info(&self) -> Value {
        json!({"redfish_address": self.address(), "redfish_username": "admin",
               "redfish_password": "password", "redfish_auth_type": "basic"})
    }

    fn curl(&self, method: &str, path: &str, body: Option<Value>) -> Option<Value> {
        let mut c = Command::new("curl");
        c.args(["-s", "-f", "-m", "10", "-u", "admin:password", "-X", method]);
        if let Some(ca) = &self.ca {
            c.arg("--cacert").arg(ca);
        }
        if let Some(b) = body {
            c.args(["-H", "Content-Type: application/json", "-d", &b.to_string()]);
        }
        let out = c.arg(format!("{}{path}", self.address())).output().ok()?;
        if !out.status.success() {
            return None;
        }
        Some(serde_json::from_slice(&out.stdout).unwrap_or(Value::Null))
    }

    fn try_get(&self, path: &str) -> Option<Value> {
        self.curl("GET", path, None)
    }

    pub fn get(&self, path: &str) -> Value {
        self.try_get(path)
            .unwrap_or_else(|| panic!("GET {path} on the emulator failed"))
    }

    pub fn system(&self) -> Value {
        self.get(&format!("/redfish/v1/Systems/{SYSTEM}"))
    }

    /// A Reset straight to the emulator, behind ironbox's back.
    pub fn reset(&self, reset_type: &str) {
        self.curl(
            "POST",
            &format!("/redfish/v1/Systems/{SYSTEM}/Actions/ComputerSystem.Reset"),
            Some(json!({ "ResetType": reset_type })),
        )
        .expect("direct Reset");
    }

    pub fn wait_power(&self, want: &str) {
        let reached = wait_until(Duration::from_secs(20), || {
            (self.system()["PowerState"] == want).then_some(())
        });
        assert!(reached.is_some(), "emulator never reached {want}");
    }

    /// The non-GET requests the emulator received, oldest first.
    pub fn requests(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dir.path().join("requests.log"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    pub fn reset_types(&self) -> Vec<String> {
        self.requests()
            .iter()
            .filter_map(|r| r["body"]["ResetType"].as_str().map(str::to_string))
            .collect()
    }

    pub fn last_boot_patch(&self) -> Value {
        self.requests()
            .iter()
            .rev()
            .find(|r| r["method"] == "PATCH" && !r["body"]["Boot"].is_null())
            .map(|r| r["body"]["Boot"].clone())
            .unwrap_or(Value::Null)
    }
}

impl Drop for Sushy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn redfish_node(ib: &Ironbox, extra: Value) -> String {
    let mut body = json!({"driver": "redfish"});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let n = ib.post("/v1/nodes", body);
    assert_eq!(n.status, 201, "{}", n.body);
    assert_eq!(n.body["power_interface"], "redfish");
    if !n.body["driver_info"]["redfish_password"].is_null() {
        assert_eq!(n.body["driver_info"]["redfish_password"], "******");
    }
    n.body["uuid"].as_str().unwrap().to_string()
}

/// Request a power change and wait for it to finish (or fail).
/// Power changes go through the real `baremetal` CLI.
fn power(ib: &Ironbox, u: &str, target: &str) {
    ib.cli_power(u, target);
}

pub(crate) fn verb(ib: &Ironbox, u: &str, target: &str, want: &str) -> Value {
    let r = ib.put(
        &format!("/v1/nodes/{u}/states/provision"),
        json!({ "target": target }),
    );
    assert_eq!(r.status, 202, "{target}: {}", r.body);
    ib.wait_state(u, want, 30)
}

pub(crate) fn last_error(ib: &Ironbox, u: &str) -> String {
    ib.get(&format!("/v1/nodes/{u}")).body["last_error"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn power_boot_device_and_management_reach_the_bmc() {
    let bmc = Sushy::start(false);
    let ib = Ironbox::start();
    // No redfish_system_id: the emulator's only system is found.
    let u = redfish_node(&ib, json!({"driver_info": bmc.driver_info()}));
    let n = ib.get(&format!("/v1/nodes/{u}")).body;
    assert_eq!(
        (
            &n["management_interface"],
            &n["boot_interface"],
            &n["inspect_interface"]
        ),
        (&json!("redfish"), &json!("ipxe"), &json!("redfish"))
    );
    let v = ib.get(&format!("/v1/nodes/{u}/validate")).body;
    assert_eq!(v["power"]["result"], true, "{v}");
    assert_eq!(v["management"]["result"], true, "{v}");
    assert_eq!(v["inspect"]["result"], true, "{v}");

    let n = verb(&ib, &u, "manage", "manageable");
    assert_eq!(n["power_state"], "power off");

    power(&ib, &u, "power on");
    assert_eq!(last_error(&ib, &u), "");
    assert_eq!(bmc.system()["PowerState"], "On");
    assert_eq!(
        ib.get(&format!("/v1/nodes/{u}")).body["power_state"],
        "power on"
    );

    // Hard reboot as Ironic: ForceOff, wait, On.
    let before = bmc.reset_types().len();
    power(&ib, &u, "rebooting");
    assert_eq!(last_error(&ib, &u), "");
    assert_eq!(bmc.reset_types()[before..], ["ForceOff", "On"]);
    assert_eq!(bmc.system()["PowerState"], "On");
    // Soft reboot: GracefulRestart, which the emulator allows.
    let before = bmc.reset_types().len();
    power(&ib, &u, "soft rebooting");
    assert_eq!(last_error(&ib, &u), "");
    assert_eq!(bmc.reset_types()[before..], ["GracefulRestart"]);
    bmc.wait_power("On");

    power(&ib, &u, "power off");
    assert_eq!(bmc.system()["PowerState"], "Off");
    assert_eq!(bmc.reset_types().last().unwrap(), "ForceOff");
    // Off → reboot powers on.
    power(&ib, &u, "rebooting");
    assert_eq!(bmc.system()["PowerState"], "On");
    power(&ib, &u, "soft power off");
    assert_eq!(bmc.reset_types().last().unwrap(), "GracefulShutdown");
    assert_eq!(bmc.system()["PowerState"], "Off");

    // Boot device, persistent and once.
    let bd = format!("/v1/nodes/{u}/management/boot_device");
    let r = ib.put(&bd, json!({"boot_device": "pxe", "persistent": true}));
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(bmc.system()["Boot"]["BootSourceOverrideTarget"], "Pxe");
    assert_eq!(
        bmc.last_boot_patch(),
        json!({"BootSourceOverrideTarget": "Pxe", "BootSourceOverrideEnabled": "Continuous"})
    );
    assert_eq!(ib.get(&bd).body["boot_device"], "pxe");
    let r = ib.put(&bd, json!({"boot_device": "disk"}));
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(bmc.system()["Boot"]["BootSourceOverrideTarget"], "Hdd");
    assert_eq!(
        bmc.last_boot_patch(),
        json!({"BootSourceOverrideTarget": "Hdd", "BootSourceOverrideEnabled": "Once"})
    );
    assert_eq!(ib.get(&bd).body["boot_device"], "disk");
    let r = ib.put(&bd, json!({"boot_device": "cdrom"}));
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(bmc.system()["Boot"]["BootSourceOverrideTarget"], "Cd");
    // The emulator does not offer BiosSetup: a clear refusal, nothing sent.
    let r = ib.put(&bd, json!({"boot_device": "bios"}));
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.fault().contains("does not offer boot device bios"),
        "{}",
        r.fault()
    );
    let supported = ib.get(&format!("{bd}/supported")).body;
    assert_eq!(
        supported["supported_boot_devices"],
        json!(["pxe", "disk", "cdrom", "bios"])
    );

    // Boot mode and secure boot reach the system; a boot device PATCH then carries the mode.
    let r = ib.put(
        &format!("/v1/nodes/{u}/states/boot_mode"),
        json!({"target": "bios"}),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(bmc.system()["Boot"]["BootSourceOverrideMode"], "Legacy");
    let r = ib.put(&bd, json!({"boot_device": "pxe"}));
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(bmc.last_boot_patch()["BootSourceOverrideMode"], "Legacy");
    let r = ib.put(
        &format!("/v1/nodes/{u}/states/secure_boot"),
        json!({"target": true}),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(
        bmc.get(&format!("/redfish/v1/Systems/{SYSTEM}/SecureBoot"))["SecureBootEnable"],
        true
    );

    // NMI is a Reset with ResetType Nmi.
    let r = ib.put(&format!("/v1/nodes/{u}/management/inject_nmi"), json!({}));
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(bmc.reset_types().last().unwrap(), "Nmi");

    let log = ib.log();
    assert!(
        !log.contains("\"password\"") && !log.contains("admin:password"),
        "password in the log"
    );
}

#[test]
fn a_refused_persistent_boot_device_is_set_once_before_each_power_on() {
    let bmc = Sushy::start_with(false, "IRONBOX_REJECT_CONTINUOUS = True");
    let ib = Ironbox::start();
    let u = redfish_node(&ib, json!({"driver_info": bmc.driver_info()}));
    verb(&ib, &u, "manage", "manageable");
    let bd = format!("/v1/nodes/{u}/management/boot_device");
    let r = ib.put(&bd, json!({"boot_device": "pxe", "persistent": true}));
    assert_eq!(r.status, 204, "{}", r.body);
    let boots: Vec<Value> = bmc
        .requests()
        .iter()
        .filter(|r| !r["body"]["Boot"].is_null())
        .map(|r| r["body"]["Boot"]["BootSourceOverrideEnabled"].clone())
        .collect();
    assert_eq!(boots, [json!("Continuous"), json!("Once")]);
    let n = ib.get(&format!("/v1/nodes/{u}")).body;
    assert_eq!(
        n["driver_internal_info"]["redfish_boot_device"], "pxe",
        "{n}"
    );
    // Something else changes the override; a power on puts pxe back first.
    assert!(bmc
        .curl(
            "PATCH",
            &format!("/redfish/v1/Systems/{SYSTEM}"),
            Some(json!({"Boot": {"BootSourceOverrideTarget": "Hdd"}}))
        )
        .is_some());
    power(&ib, &u, "power on");
    assert_eq!(last_error(&ib, &u), "");
    assert_eq!(bmc.system()["Boot"]["BootSourceOverrideTarget"], "Pxe");
    let tail: Vec<Value> = bmc.requests().iter().rev().take(2).cloned().collect();
    assert_eq!(tail[0]["body"], json!({"ResetType": "On"}));
    assert_eq!(tail[1]["body"]["Boot"]["BootSourceOverrideTarget"], "Pxe");
    assert_eq!(tail[1]["body"]["Boot"]["BootSourceOverrideEnabled"], "Once");
    // A one-time boot device clears the memory.
    let r = ib.put(&bd, json!({"boot_device": "disk"}));
    assert_eq!(r.status, 204, "{}", r.body);
    let n = ib.get(&format!("/v1/nodes/{u}")).body;
    assert!(
        n["driver_internal_info"]["redfish_boot_device"].is_null(),
        "{n}"
    );
}

/// Serves `body` at any path over HTTP on loopback (the emulator downloads inserted media).
pub(crate) fn serve_file(body: &'static [u8]) -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten().take(20) {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(body);
        }
    });
    port
}

#[test]
fn virtual_media_is_inserted_for_the_ramdisk_and_ejected_on_tear_down() {
    let bmc = Sushy::start(false);
    let ib = Ironbox::start();
    let iso_port = serve_file(b"not really an ISO, the emulator only stores it");
    let iso = format!("http://127.0.0.1:{iso_port}/boot.iso");
    let mut di = bmc.driver_info();
    di["deploy_kernel"] = json!("");
    let u = redfish_node(
        &ib,
        json!({"driver_info": di, "boot_interface": "redfish-virtual-media",
               "deploy_interface": "ramdisk"}),
    );
    // No ISO and no deploy kernel to build one from: validation says so, and names what
    // to set.
    let v = ib.get(&format!("/v1/nodes/{u}/validate")).body;
    assert_eq!(v["boot"]["result"], false, "{v}");
    let why = v["boot"]["reason"].as_str().unwrap_or_default();
    assert!(
        why.contains("redfish_deploy_iso") && why.contains("deploy_kernel"),
        "{why}"
    );
    let r = ib.patch(
        &format!("/v1/nodes/{u}"),
        json!([{"op": "add", "path": "/instance_info",
                "value": {"kernel": "vmlinuz", "ramdisk": "initrd", "boot_iso": iso}}]),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v = ib.get(&format!("/v1/nodes/{u}/validate")).body;
    assert_eq!(v["boot"]["result"], true, "{v}");

    verb(&ib, &u, "manage", "manageable");
    verb(&ib, &u, "provide", "available");
    let n = verb(&ib, &u, "active", "active");
    assert_eq!(n["last_error"], Value::Null, "{n}");
    let cd = bmc.get(&format!("/redfish/v1/Systems/{SYSTEM}/VirtualMedia/Cd"));
    assert_eq!(cd["Inserted"], true, "{cd}");
    assert_eq!(cd["Image"], iso.as_str(), "{cd}");
    // Booted once from the CD (then the ramdisk deploy sets its own boot device).
    assert!(
        bmc.requests().iter().any(|r| r["body"]["Boot"]
            == json!({"BootSourceOverrideTarget": "Cd", "BootSourceOverrideEnabled": "Once"})),
        "{:?}",
        bmc.requests()
    );
    assert_eq!(bmc.system()["PowerState"], "On");

    verb(&ib, &u, "deleted", "available");
    let cd = bmc.get(&format!("/redfish/v1/Systems/{SYSTEM}/VirtualMedia/Cd"));
    assert_eq!(cd["Inserted"], false, "{cd}");
    assert_eq!(cd["Image"], "", "{cd}");
    assert_eq!(bmc.system()["PowerState"], "Off");
}

#[test]
fn wrong_credentials_and_unreachable_bmcs_fail_clearly() {
    let bmc = Sushy::start(false);
    let ib = Ironbox::start_with(
        "[redfish]\nconnection_attempts = 2\nconnection_retry_interval = 1\nrequest_timeout = 2\n",
    );
    let mut di = bmc.driver_info();
    di["redfish_password"] = json!("sekrit-wrong");
    let u = redfish_node(&ib, json!({"driver_info": di}));
    ib.cli_ok(&["node", "manage", &u]);
    ib.wait_state(&u, "enroll", 30);
    let err = ib.cli_json(&["node", "show", &u])["last_error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(err.contains("401 Unauthorized"), "{err}");
    assert!(err.contains("redfish_password"), "{err}");
    assert!(!err.contains("sekrit-wrong"), "the password leaked: {err}");
    assert!(
        !ib.log().contains("sekrit-wrong"),
        "the password leaked into the log"
    );

    // Session auth against a BMC without a SessionService: said plainly.
    let mut di = bmc.driver_info();
    di["redfish_auth_type"] = json!("session");
    let u = redfish_node(&ib, json!({"driver_info": di}));
    power(&ib, &u, "power on");
    let err = last_error(&ib, &u);
    assert!(err.contains("no Redfish SessionService"), "{err}");

    // A BMC that accepts connections and never answers: bounded by 2 attempts x 2 s + 1 s.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let u = redfish_node(
        &ib,
        json!({"driver_info": {"redfish_address": format!("http://127.0.0.1:{port}"),
               "redfish_username": "admin", "redfish_password": "password"}}),
    );
    let start = Instant::now();
    power(&ib, &u, "power on");
    let took = start.elapsed();
    let err = last_error(&ib, &u);
    assert!(err.contains("did not answer within"), "{err}");
    assert!(
        took < Duration::from_secs(12),
        "took {took:?} (bound about 5 s)"
    );
    drop(silent);

    // Nobody listening at all.
    let u = redfish_node(
        &ib,
        json!({"driver_info": {"redfish_address": format!("http://127.0.0.1:{}", free_port())}}),
    );
    let start = Instant::now();
    power(&ib, &u, "power on");
    assert!(
        last_error(&ib, &u).contains("not reachable"),
        "{}",
        last_error(&ib, &u)
    );
    assert!(start.elapsed() < Duration::from_secs(10));
    // The failed BMC calls are counted by driver and command.
    let text = crate::metrics::scrape(&ib);
    let failed = crate::metrics::sample(
        &text,
        "ironbox_bmc_command_failures_total",
        &[("driver", "redfish"), ("command", "get_system")],
    );
    assert!(failed.unwrap_or(0.0) >= 2.0, "{text}");
}

#[test]
fn https_verifies_the_bmc_certificate() {
    let bmc = Sushy::start(true);
    let ib = Ironbox::start_with("[redfish]\nconnection_attempts = 1\n");
    let ca = bmc.ca.clone().unwrap();
    // Verified against the test's CA.
    let mut di = bmc.driver_info();
    di["redfish_verify_ca"] = json!(ca.display().to_string());
    let u = redfish_node(&ib, json!({"driver_info": di}));
    let n = verb(&ib, &u, "manage", "manageable");
    assert_eq!(n["power_state"], "power off");
    power(&ib, &u, "power on");
    assert_eq!(last_error(&ib, &u), "");
    assert_eq!(bmc.system()["PowerState"], "On");
    // A directory of CAs works too.
    let mut di = bmc.driver_info();
    di["redfish_verify_ca"] = json!(ca.parent().unwrap().display().to_string());
    let u2 = redfish_node(&ib, json!({"driver_info": di}));
    verb(&ib, &u2, "manage", "manageable");
    // Default: the built-in roots, which do not know the test's CA.
    let u3 = redfish_node(&ib, json!({"driver_info": bmc.driver_info()}));
    let r = ib.put(
        &format!("/v1/nodes/{u3}/states/provision"),
        json!({"target": "manage"}),
    );
    assert_eq!(r.status, 202);
    ib.wait_state(&u3, "enroll", 30);
    let err = last_error(&ib, &u3);
    assert!(err.contains("TLS") && err.contains("certificate"), "{err}");
    // Verification off: accepted.
    let mut di = bmc.driver_info();
    di["redfish_verify_ca"] = json!("false");
    let u4 = redfish_node(&ib, json!({"driver_info": di}));
    verb(&ib, &u4, "manage", "manageable");
}

#[test]
fn power_sync_sees_an_out_of_band_reset() {
    let bmc = Sushy::start(false);
    // Record mode: the hardware's state wins.
    let ib = Ironbox::start_with(
        "[conductor]\nsync_power_state_interval = 1\nforce_power_state_during_sync = false\n",
    );
    let u = redfish_node(&ib, json!({"driver_info": bmc.driver_info()}));
    verb(&ib, &u, "manage", "manageable");
    bmc.reset("On");
    bmc.wait_power("On");
    let seen = wait_until(Duration::from_secs(20), || {
        (ib.get(&format!("/v1/nodes/{u}")).body["power_state"] == "power on").then_some(())
    });
    assert!(seen.is_some(), "power sync never saw the direct Reset On");
    drop(ib);
    // Force mode (Ironic's default): the recorded state is pushed back onto the system.
    let ib = Ironbox::start_with("[conductor]\nsync_power_state_interval = 1\n");
    let u = redfish_node(&ib, json!({"driver_info": bmc.driver_info()}));
    verb(&ib, &u, "manage", "manageable");
    assert_eq!(
        ib.get(&format!("/v1/nodes/{u}")).body["power_state"],
        "power on"
    );
    power(&ib, &u, "power off");
    bmc.reset("On");
    bmc.wait_power("On");
    let off = wait_until(Duration::from_secs(20), || {
        (bmc.system()["PowerState"] == "Off").then_some(())
    });
    assert!(
        off.is_some(),
        "power sync never switched the system back off"
    );
}

#[test]
fn bad_driver_info_is_refused() {
    let ib = Ironbox::start();
    let dir = tempfile::tempdir().unwrap();
    let missing_ca = dir.path().join("nope.pem");
    let cases = [
        (json!({}), "Missing the following Redfish properties"),
        (
            json!({"redfish_address": "http://"}),
            "Invalid Redfish address",
        ),
        (
            json!({"redfish_address": "ftp://bmc"}),
            "is not http or https",
        ),
        (
            json!({"redfish_address": "bmc", "redfish_verify_ca": "maybe"}),
            "redfish_verify_ca",
        ),
        (
            json!({"redfish_address": "bmc", "redfish_verify_ca": missing_ca.display().to_string()}),
            "no such file or directory",
        ),
        (
            json!({"redfish_address": "bmc", "redfish_verify_ca": 3}),
            "redfish_verify_ca",
        ),
        (
            json!({"redfish_address": "bmc", "redfish_auth_type": "digest"}),
            "redfish_auth_type",
        ),
        (
            json!({"redfish_address": "bmc", "redfish_system_id": 7}),
            "redfish_system_id",
        ),
    ];
    for (di, msg) in cases {
        let u = redfish_node(&ib, json!({ "driver_info": di }));
        let v = ib.get(&format!("/v1/nodes/{u}/validate")).body;
        assert_eq!(v["power"]["result"], false, "{di}");
        assert_eq!(v["management"]["result"], false, "{di}");
        let why = v["power"]["reason"].as_str().unwrap_or_default();
        assert!(why.contains(msg), "{di}: {why}");
        let r = ib.put(
            &format!("/v1/nodes/{u}/states/power"),
            json!({"target": "power on"}),
        );
        assert_eq!(r.status, 400, "{di}: {}", r.body);
    }
    let props = ib.get("/v1/drivers/redfish/properties").body;
    assert!(props["redfish_address"]
        .as_str()
        .unwrap()
        .contains("Required"));
    for k in [
        "redfish_system_id",
        "redfish_username",
        "redfish_password",
        "redfish_verify_ca",
        "redfish_auth_type",
    ] {
        assert!(props[k].is_string(), "{k} missing from {props}");
    }
}
