//! The serial console in the QEMU end-to-end tests (e2e.rs): over IPMI, the node's
//! `ipmitool-socat` console (native SOL to ipmi_sim, whose serial device reaches the VM's
//! COM1 through tests/lab/serial-relay.py) read over its TCP port and in chromium.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::harness::{wait_until, Ironbox};

/// The node's serial console as an Ironic user reads it: enabled with
/// `PUT /v1/nodes/{id}/states/console`, then its `console_info` TCP port read by `nc` in
/// the namespace for the rest of the cycle (the machine's boots go by on it).
pub struct Console {
    nc: std::process::Child,
    out: PathBuf,
}

impl Console {
    pub fn open(ib: &Ironbox, ns: &str, uuid: &str, dir: &Path) -> Console {
        let r = ib.patch(
            &format!("/v1/nodes/{uuid}"),
            serde_json::json!([{"op": "replace", "path": "/console_interface", "value": "ipmitool-socat"}]),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        let r = ib.put(
            &format!("/v1/nodes/{uuid}/states/console"),
            serde_json::json!({"enabled": true}),
        );
        assert_eq!(r.status, 202, "{}", r.body);
        let url = wait_until(Duration::from_secs(30), || {
            let c = ib.get(&format!("/v1/nodes/{uuid}/states/console")).body;
            (c["console_enabled"] == true)
                .then(|| c["console_info"]["url"].as_str().map(str::to_string))
                .flatten()
        })
        .expect("console enabled with a console_info url");
        // tcp://host:port, as ipmitool-socat gives it.
        let (host, port) = url
            .strip_prefix("tcp://")
            .and_then(|a| a.rsplit_once(':'))
            .unwrap_or_else(|| panic!("console_info url {url}"));
        let out = dir.join("console.log");
        for _ in 0..20 {
            let file = std::fs::File::create(&out).unwrap();
            let mut nc = Command::new("ip")
                .args(["netns", "exec", ns, "busybox", "nc", host, port])
                .stdin(std::process::Stdio::piped())
                .stdout(file)
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("busybox nc");
            std::thread::sleep(Duration::from_millis(500));
            if nc.try_wait().unwrap().is_none() {
                return Console { nc, out };
            }
        }
        panic!("could not connect to the console at {url}");
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.out).unwrap_or_default()).into_owned()
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        let _ = self.nc.kill();
        let _ = self.nc.wait();
    }
}

/// The console page in Debian's chromium (tests/ui/sol_console.py, in the namespace where
/// ironbox listens) shows `want` in its terminal. Needs the browser tests' venv:
/// $IRONBOX_UI_VENV, else `.venv-ui` in the repository; without one it says so and skips.
pub fn console_in_browser(ib: &Ironbox, ns: &str, uuid: &str, want: &str, firmware: &str) {
    let venv = std::env::var_os("IRONBOX_UI_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.venv-ui")));
    let python = venv.join("bin/python");
    if !python.exists() {
        eprintln!(
            "{firmware}: console in the browser NOT checked: no {} (set IRONBOX_UI_VENV)",
            python.display()
        );
        return;
    }
    let shots = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/ui/screenshots"));
    std::fs::create_dir_all(&shots).unwrap();
    let shot = shots.join(format!("e2e-console-{firmware}.png"));
    let t = Instant::now();
    let out = Command::new("ip")
        .args(["netns", "exec", ns])
        .arg(&python)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/ui/sol_console.py"
        ))
        .args([&ib.url, uuid, want])
        .arg(&shot)
        .output()
        .expect("python");
    assert!(
        out.status.success(),
        "the console page did not show {want:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!(
        "{firmware}: console page in chromium showed the marker ({:.1} s; {})",
        t.elapsed().as_secs_f64(),
        shot.display()
    );
}
