//! IPMI power sync benchmark: `PowerSync::run_once` over 50 `ipmi` nodes, each backed by its
//! own OpenIPMI `ipmi_sim` BMC on a loopback UDP port, compared with running
//! `ipmitool -I lanplus ... chassis power status` once per BMC sequentially.
//!
//! Run with `cargo bench --bench ipmi_sync` (needs `ipmi_sim` and `ipmitool` on PATH).
//! The simulators are set up like tests/integration/ipmi.rs (lan.conf, node.emu and a
//! chassis_control shell script keeping power in a file; user admin/password); the chassis script is
//! tests/lab/ipmi-chassis.sh. They are killed by a Drop guard, also on panic.
//!
//! The cycle is timed with `[conductor] sync_power_state_workers` = 8 (the default) and 16.
//! Every node is recorded "power off" and every simulator reports power off, so a cycle is
//! expected to give checked = 50, changed = 0, failed = 0.
//!
//! Environment: `IPMI_SYNC_BMCS` (default 50), `IPMI_SYNC_RUNS` (default 5).

// A benchmark harness may stop loudly on a broken set-up.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{env_usize, median, ms};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ironbox::conductor::periodic::{PowerSync, SyncSummary};
use ironbox::conductor::Conductor;
use ironbox::config::Config;
use ironbox::db::Store;
use ironbox::drivers::Registry;
use ironbox::model::node::Node;

struct Sim {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

/// Owns every simulator: kills and reaps them on drop (normal exit or panic unwind).
struct Sims(Vec<Sim>);

impl Drop for Sims {
    fn drop(&mut self) {
        for s in &mut self.0 {
            if let Some(mut c) = s.child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}

fn ipmitool_status(port: u16) -> bool {
    Command::new("ipmitool")
        .args([
            "-I",
            "lanplus",
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            "admin",
            "-P",
            "password",
            "-C",
            "3",
        ])
        .args(["chassis", "power", "status"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .map(|o| {
            o.status.success()
                && String::from_utf8_lossy(&o.stdout).contains("Chassis Power is off")
        })
        .unwrap_or(false)
}

fn spawn_sim(port: u16) -> Sim {
    let dir = tempfile::Builder::new()
        .prefix("ironbox-ipmi-sync-bmc-")
        .tempdir()
        .expect("temp dir");
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
        "name \"bmc\"\nset_working_mc 0x20\n  startlan 1\n    addr 127.0.0.1 {port}\n    priv_limit admin\n    allowed_auths_callback none md2 md5 straight\n    allowed_auths_user none md2 md5 straight\n    allowed_auths_operator none md2 md5 straight\n    allowed_auths_admin none md2 md5 straight\n    guid a123456789abcdefa123456789abcdef\n  endlan\n  chassis_control \"{}\"\n  user 1 true \"\" \"unused\" user 10 none md2 md5 straight\n  user 2 true \"admin\" \"password\" admin 10 none md2 md5 straight\n",
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
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("ipmi_sim (Debian package openipmi)");
    Sim {
        port,
        dir,
        child: Some(child),
    }
}

fn start_sims(n: usize) -> Sims {
    // Hold every probe socket until all ports are picked, so no port is handed out twice.
    let socks: Vec<std::net::UdpSocket> = (0..n)
        .map(|_| std::net::UdpSocket::bind("127.0.0.1:0").expect("bind"))
        .collect();
    let ports: Vec<u16> = socks
        .iter()
        .map(|s| s.local_addr().unwrap().port())
        .collect();
    drop(socks);
    let sims = Sims(ports.into_iter().map(spawn_sim).collect());
    let deadline = Instant::now() + Duration::from_secs(30);
    for s in &sims.0 {
        while !ipmitool_status(s.port) {
            if Instant::now() > deadline {
                let log =
                    std::fs::read_to_string(s.dir.path().join("ipmi_sim.log")).unwrap_or_default();
                panic!("ipmi_sim on port {} did not come up; log:\n{log}", s.port);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    sims
}

fn node(i: usize, port: u16) -> Node {
    let mut info = serde_json::Map::new();
    info.insert("ipmi_address".into(), serde_json::json!("127.0.0.1"));
    info.insert("ipmi_port".into(), serde_json::json!(port));
    info.insert("ipmi_username".into(), serde_json::json!("admin"));
    info.insert("ipmi_password".into(), serde_json::json!("password"));
    Node {
        uuid: ironbox::model::new_uuid(),
        name: Some(format!("ipmi-sync-{i}")),
        driver: "ipmi".into(),
        provision_state: "manageable".into(),
        power_state: Some("power off".into()),
        conductor_group: String::new(),
        driver_info: info,
        ..Default::default()
    }
}

struct Result1 {
    workers: u32,
    times: Vec<Duration>,
    last: SyncSummary,
}

/// A fresh state dir, store and conductor with `workers` power sync workers; creates one
/// node per simulator and times `runs` cycles.
fn run_with(workers: u32, ports: &[u16], runs: usize) -> Result1 {
    let tmp = tempfile::Builder::new()
        .prefix("ironbox-ipmi-sync-")
        .tempdir()
        .expect("temp dir");
    let state = tmp.path().join("state");
    let toml = format!(
        "[DEFAULT]\nstate_path = {:?}\n\n[conductor]\nsync_power_state_workers = {workers}\n",
        state.display().to_string()
    );
    let cfg = Config::parse(&toml, "bench").expect("Config::parse");
    assert_eq!(cfg.conductor.sync_power_state_workers, workers);
    let registry = Registry::from_config(&cfg).expect("Registry::from_config");
    let store = Store::open(&cfg.database.connection, 5000, 8).expect("Store::open");
    let cfg = Arc::new(cfg);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let n = ports.len();
    let res = rt.block_on(async move {
        let conductor = Conductor::new(store.clone(), Arc::new(registry), cfg.clone());
        for (i, &p) in ports.iter().enumerate() {
            let created = conductor.node_create(node(i, p)).await.expect("Conductor::node_create");
            assert_eq!(created.interfaces.get("power"), Some("ipmitool"), "power interface of an ipmi node");
        }
        let sync = PowerSync::default();
        println!();
        println!("sync_power_state_workers = {workers}");
        println!("{:<10} {:>10} {:>8} {:>8} {:>7}", "cycle", "time (ms)", "checked", "changed", "failed");
        let mut times = vec![];
        let mut last = SyncSummary::default();
        for r in 1..=runs {
            let t = Instant::now();
            let s = sync.run_once(&conductor).await.expect("PowerSync::run_once");
            let d = t.elapsed();
            println!("{:<10} {:>10.1} {:>8} {:>8} {:>7}", format!("run {r}"), ms(d), s.checked, s.changed, s.failed);
            if s.checked != n || s.failed != 0 {
                eprintln!("ipmi_sync bench: unexpected summary {s:?} (expected checked = {n}, failed = 0)");
            }
            times.push(d);
            last = s;
        }
        conductor.shutdown(Duration::from_secs(5)).await;
        Result1 { workers, times, last }
    });
    drop(rt);
    drop(tmp);
    res
}

fn main() {
    let n = env_usize("IPMI_SYNC_BMCS", 50).max(1);
    let runs = env_usize("IPMI_SYNC_RUNS", 5).max(1);
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);

    let t = Instant::now();
    let sims = start_sims(n);
    let ports: Vec<u16> = sims.0.iter().map(|s| s.port).collect();
    println!("ipmi_sync: {n} ipmi_sim BMCs on 127.0.0.1 (UDP {}..), all answering after {:.1} s; {runs} runs per setting, \
              tokio multi-thread runtime on {threads} CPU(s)",
        ports.iter().min().unwrap(), t.elapsed().as_secs_f64());

    // ---- baseline: one ipmitool process per BMC, sequentially
    let t = Instant::now();
    let mut ok = 0usize;
    for &p in &ports {
        if ipmitool_status(p) {
            ok += 1;
        }
    }
    let base = t.elapsed();
    println!("baseline: sequential `ipmitool -I lanplus -C 3 chassis power status` x {n}: total {:.1} ms, \
              {:.1} ms per call, {ok}/{n} ok", ms(base), ms(base) / n as f64);

    let results: Vec<Result1> = [8u32, 16]
        .iter()
        .map(|&w| run_with(w, &ports, runs))
        .collect();

    println!();
    for r in &results {
        let med = median(&r.times);
        let min = r.times.iter().min().copied().unwrap_or_default();
        let max = r.times.iter().max().copied().unwrap_or_default();
        println!("workers {:>2}: cycle over {n} ipmi nodes median {:.1} ms (min {:.1}, max {:.1}); per node {:.2} ms; \
                  summary checked={} changed={} failed={}; baseline/cycle = {:.1}x",
            r.workers, ms(med), ms(min), ms(max), ms(med) / n as f64, r.last.checked, r.last.changed, r.last.failed,
            base.as_secs_f64() / med.as_secs_f64());
    }
    drop(sims);
    let failed = results
        .iter()
        .any(|r| r.last.checked != n || r.last.failed != 0);
    if failed {
        std::process::exit(1);
    }
}
