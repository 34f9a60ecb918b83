//! Power sync benchmark: one `PowerSync::run_once` cycle over 10,000 fake-hardware nodes.
//!
//! Run with `cargo bench --bench power_sync` (release profile). Uses the library directly:
//! a `Config` with `[DEFAULT] state_path` in a temp dir (everything else default),
//! `Registry::from_config`, `Store::open(<state_path>/ironbox.sqlite, 5000, 8)` and
//! `Conductor::new`. Creates the nodes through `Conductor::node_create`, then times
//! `PowerSync::default().run_once(&conductor)` several times and prints each time, the
//! median and the returned summary (checked/changed/failed).
//!
//! Target: one cycle over 10,000 nodes < 1 s.
//!
//! Environment: `POWER_SYNC_NODES` (default 10000), `POWER_SYNC_RUNS` (default 5).
//!
//! Not measured: a cycle where recorded and real power differ. The fake power interface
//! reads the node's own recorded `power_state`, so a fake node can never disagree with its
//! "hardware". What can be measured (and is, as information) is the write path of a cycle:
//! 10% of the nodes get an unknown (`None`) recorded power state, which fake hardware reads
//! as "power off", so the cycle takes each such node's lock, records "power off", writes a
//! history entry and saves it.

// A benchmark harness may stop loudly on a broken set-up.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{env_usize, median, ms};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ironbox::conductor::periodic::{PowerSync, SyncSummary};
use ironbox::conductor::Conductor;
use ironbox::config::Config;
use ironbox::db::{NodeFilter, Page, Store};
use ironbox::drivers::Registry;
use ironbox::model::node::Node;

const TARGET: Duration = Duration::from_secs(1);

/// The temp dir, removed by `fail` too (`process::exit` runs no destructors).
static TMP: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();

fn fail(what: &str, e: impl std::fmt::Display) -> ! {
    eprintln!("power_sync bench: {what}: {e}");
    if let Some(dir) = TMP.get() {
        let _ = std::fs::remove_dir_all(dir);
    }
    std::process::exit(1);
}

fn node(i: usize) -> Node {
    let mut props = serde_json::Map::new();
    props.insert("cpus".into(), serde_json::json!(8));
    props.insert("memory_mb".into(), serde_json::json!(16384));
    props.insert("local_gb".into(), serde_json::json!(100));
    props.insert("cpu_arch".into(), serde_json::json!("x86_64"));
    let mut info = serde_json::Map::new();
    info.insert(
        "ipmi_address".into(),
        serde_json::json!(format!(
            "10.{}.{}.{}",
            i / 62500,
            (i / 250) % 250,
            i % 250 + 1
        )),
    );
    Node {
        uuid: ironbox::model::new_uuid(),
        name: Some(format!("ps-{i}")),
        driver: "fake-hardware".into(),
        // Half deployed, half not: both are synced (only enroll, wait and failed-adopt states are skipped).
        provision_state: if i.is_multiple_of(2) {
            "active"
        } else {
            "manageable"
        }
        .into(),
        power_state: Some("power on".into()),
        conductor_group: String::new(),
        properties: props,
        driver_info: info,
        ..Default::default()
    }
}

async fn timed_cycle(sync: &PowerSync, c: &Conductor) -> (Duration, SyncSummary) {
    let t = Instant::now();
    let s = sync
        .run_once(c)
        .await
        .unwrap_or_else(|e| fail("PowerSync::run_once", e));
    (t.elapsed(), s)
}

fn rss_kib(field: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = text.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    // `cargo bench` passes `--bench`; other arguments (filters) are ignored.
    let n_nodes = env_usize("POWER_SYNC_NODES", 10_000);
    let runs = env_usize("POWER_SYNC_RUNS", 5).max(1);

    let tmp = tempfile::Builder::new()
        .prefix("ironbox-power-sync-")
        .tempdir()
        .unwrap_or_else(|e| fail("temp dir", e));
    let _ = TMP.set(tmp.path().to_path_buf());
    let state = tmp.path().join("state");
    let toml = format!(
        "[DEFAULT]\nstate_path = {:?}\n",
        state.display().to_string()
    );
    let cfg = Config::parse(&toml, "bench").unwrap_or_else(|e| fail("Config::parse", e));
    let registry = Registry::from_config(&cfg).unwrap_or_else(|e| fail("Registry::from_config", e));
    let store =
        Store::open(&cfg.database.connection, 5000, 8).unwrap_or_else(|e| fail("Store::open", e));
    let workers = cfg.conductor.sync_power_state_workers;
    let cfg = Arc::new(cfg);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| fail("tokio runtime", e));
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);

    rt.block_on(async move {
        let conductor = Conductor::new(store.clone(), Arc::new(registry), cfg.clone());

        // ---- create the nodes through the conductor (8 at a time)
        let t = Instant::now();
        let mut created = 0usize;
        let mut set = tokio::task::JoinSet::new();
        let mut next = 0usize;
        while created < n_nodes {
            while next < n_nodes && set.len() < 8 {
                let c = conductor.clone();
                let n = node(next);
                set.spawn(async move { c.node_create(n).await });
                next += 1;
            }
            match set.join_next().await {
                Some(Ok(Ok(_))) => created += 1,
                Some(Ok(Err(e))) => fail("Conductor::node_create", e),
                Some(Err(e)) => fail("node_create task", e),
                None => break,
            }
        }
        let create = t.elapsed();

        println!("power_sync: {n_nodes} fake-hardware nodes, {runs} runs, sync_power_state_workers = {workers}, \
                  tokio multi-thread runtime on {threads} CPU(s)");
        println!("database: {} (WAL), created {created} nodes via Conductor::node_create in {:.2} s ({:.0}/s)",
            cfg.database.connection.display(), create.as_secs_f64(), created as f64 / create.as_secs_f64());

        // ---- for reference: reading all nodes the way a cycle does (pages of 1000)
        let t = Instant::now();
        let mut seen = 0usize;
        let mut marker: Option<String> = None;
        loop {
            let filter = NodeFilter { maintenance: Some(false), conductor_group: Some(String::new()), include_children: true, ..Default::default() };
            let page = Page { limit: 1000, marker: marker.clone(), sort_key: "id".into(), descending: false };
            let batch = store.node_list(filter, page).await.unwrap_or_else(|e| fail("Store::node_list", e));
            seen += batch.len();
            marker = batch.last().map(|n| n.uuid.clone());
            if batch.len() < 1000 {
                break;
            }
        }
        let list = t.elapsed();
        println!("reference: Store::node_list of all {seen} nodes in pages of 1000: {:.1} ms", ms(list));

        // ---- the measured cycles: every node's recorded power equals its (fake) hardware
        let sync = PowerSync::default();
        println!();
        println!("{:<28} {:>10} {:>8} {:>8} {:>7}", "cycle", "time (ms)", "checked", "changed", "failed");
        let mut times = vec![];
        let mut last = SyncSummary::default();
        for r in 1..=runs {
            let (d, s) = timed_cycle(&sync, &conductor).await;
            println!("{:<28} {:>10.1} {:>8} {:>8} {:>7}", format!("steady state, run {r}"), ms(d), s.checked, s.changed, s.failed);
            if s.checked != n_nodes || s.failed != 0 {
                fail("unexpected summary", format!("{s:?} (expected checked = {n_nodes}, failed = 0)"));
            }
            times.push(d);
            last = s;
        }
        let med = median(&times);
        let min = times.iter().min().copied().unwrap_or_default();
        let max = times.iter().max().copied().unwrap_or_default();

        // ---- information: the write path (10% of the nodes' recorded power unknown)
        let tenth = n_nodes / 10;
        let mut page_marker: Option<String> = None;
        let mut reset = 0usize;
        while reset < tenth {
            let page = Page { limit: 1000, marker: page_marker.clone(), sort_key: "id".into(), descending: false };
            let batch = store.node_list(NodeFilter::default(), page).await.unwrap_or_else(|e| fail("Store::node_list", e));
            if batch.is_empty() {
                break;
            }
            page_marker = batch.last().map(|n| n.uuid.clone());
            for (k, mut n) in batch.into_iter().enumerate() {
                if k % 10 == 0 && reset < tenth {
                    n.power_state = None;
                    store.node_save(n).await.unwrap_or_else(|e| fail("Store::node_save", e));
                    reset += 1;
                }
            }
        }
        let (dw, sw) = timed_cycle(&sync, &conductor).await;
        println!("{:<28} {:>10.1} {:>8} {:>8} {:>7}", format!("{reset} unknown -> recorded"), ms(dw), sw.checked, sw.changed, sw.failed);
        let (da, sa) = timed_cycle(&sync, &conductor).await;
        println!("{:<28} {:>10.1} {:>8} {:>8} {:>7}", "steady state again", ms(da), sa.checked, sa.changed, sa.failed);

        println!();
        println!("steady-state cycle over {n_nodes} nodes: median {:.1} ms (min {:.1}, max {:.1}, {runs} runs); \
                  summary checked={} changed={} failed={}", ms(med), ms(min), ms(max), last.checked, last.changed, last.failed);
        println!("per node: {:.1} us", med.as_secs_f64() * 1e6 / n_nodes.max(1) as f64);
        println!("write path (information): {reset} nodes with unknown power recorded as \"power off\" in one cycle: \
                  {:.1} ms, changed={} (expected {reset})", ms(dw), sw.changed);
        println!("not measured: recorded power differing from hardware -- fake hardware reads the node's own \
                  recorded power_state, so fake nodes cannot disagree");
        if let (Some(rss), Some(hwm)) = (rss_kib("VmRSS:"), rss_kib("VmHWM:")) {
            println!("bench process RSS {:.1} MiB, peak {:.1} MiB", rss as f64 / 1024.0, hwm as f64 / 1024.0);
        }
        let met = med < TARGET;
        println!("target one cycle over {n_nodes} nodes < {} ms: median {:.1} ms -> {}", TARGET.as_millis(), ms(med),
            if met { "MET" } else { "NOT MET" });
        conductor.shutdown(Duration::from_secs(5)).await;
    });
    drop(tmp);
}
