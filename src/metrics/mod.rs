//! Prometheus metrics: one process-wide registry of `ironbox_*` families (prometheus-client),
//! one-line recording functions for every layer, and the encoder `/metrics` serves.
//!
//! A neutral leaf: it uses no other module, and api, boot, conductor and drivers call it.
//! Labels hold only bounded sets — state and verb names, route patterns, step names, packet
//! types, named reasons — never node UUIDs, MACs, names or anything a client typed freely.
//! Node counts by state are not kept here: `/metrics` computes them from the database at
//! scrape time and hands them to [`encode`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// The OpenMetrics content type, sent when the scraper's `Accept` asks for it.
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// The classic Prometheus text format (0.0.4), sent otherwise.
pub const PROMETHEUS_TEXT: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// More distinct label values than this in one family and new ones are recorded as
/// `other`: a misbehaving agent (which names its own steps) cannot grow the registry.
const MAX_SERIES: usize = 500;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Transition {
    from: String,
    event: &'static str,
    to: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VerbDone {
    verb: &'static str,
    to: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Step {
    interface: String,
    step: String,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Dhcp {
    message_type: &'static str,
    result: &'static str,
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Reason {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ExternalEvent {
    event: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Bmc {
    driver: &'static str,
    command: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Api {
    route: String,
    method: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProvisionState {
    provision_state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PowerState {
    power_state: String,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

fn seconds_buckets(start: f64, count: u16) -> Histogram {
    Histogram::new(exponential_buckets(start, 2.0, count))
}

/// Every family, registered once in [`REGISTRY`].
struct Metrics {
    registry: Registry,
    transitions: Family<Transition, Counter>,
    provision_duration: Histograms<VerbDone>,
    step_duration: Histograms<Step>,
    step_series: AtomicUsize,
    dhcp_packets: Family<Dhcp, Counter>,
    dhcp_drops: Family<Reason, Counter>,
    tftp_transfers: Family<Outcome, Counter>,
    tftp_bytes: Counter,
    http_boot_requests: Family<Outcome, Counter>,
    agent_heartbeats: Family<Outcome, Counter>,
    agent_lookups: Family<Outcome, Counter>,
    discoveries: Family<Outcome, Counter>,
    external_events: Family<ExternalEvent, Counter>,
    bmc_duration: Histograms<Bmc>,
    bmc_failures: Family<Bmc, Counter>,
    api_requests: Family<Api, Counter>,
    api_duration: Histograms<Api>,
    /// Node UUID → (the verb that set it working, when): the start of each provision
    /// duration. Entries leave when the node comes to rest; lost on restart (the duration
    /// of work a restart interrupted is not observed).
    working: Mutex<HashMap<String, (&'static str, Instant)>>,
    /// Node UUID → its running step (interface, step, since when).
    steps: Mutex<HashMap<String, (String, String, Instant)>>,
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::with_prefix("ironbox");
        let m = Metrics {
            transitions: Family::default(),
            provision_duration: Family::new_with_constructor(|| seconds_buckets(1.0, 14)),
            step_duration: Family::new_with_constructor(|| seconds_buckets(0.05, 17)),
            step_series: AtomicUsize::new(0),
            dhcp_packets: Family::default(),
            dhcp_drops: Family::default(),
            tftp_transfers: Family::default(),
            tftp_bytes: Counter::default(),
            http_boot_requests: Family::default(),
            agent_heartbeats: Family::default(),
            agent_lookups: Family::default(),
            discoveries: Family::default(),
            external_events: Family::default(),
            bmc_duration: Family::new_with_constructor(|| seconds_buckets(0.005, 14)),
            bmc_failures: Family::default(),
            api_requests: Family::default(),
            api_duration: Family::new_with_constructor(|| seconds_buckets(0.000_25, 17)),
            working: Mutex::new(HashMap::new()),
            steps: Mutex::new(HashMap::new()),
            registry: Registry::default(),
        };
        let r = &mut registry;
        r.register(
            "provision_transitions",
            "Provision state changes, by the state left, the event and the state entered",
            m.transitions.clone(),
        );
        r.register(
            "provision_duration_seconds",
            "Time from a verb setting a node to work until it rests (a stable or failed state), by verb and the state it rested in",
            m.provision_duration.clone(),
        );
        r.register(
            "step_duration_seconds",
            "Duration of deploy, clean and service steps, by interface, step and result",
            m.step_duration.clone(),
        );
        r.register(
            "dhcp_packets",
            "DHCP packets received, by message type and result (answered, handled or dropped) with the named reason",
            m.dhcp_packets.clone(),
        );
        r.register(
            "dhcp_drops",
            "DHCP packets the server meant to answer but did not, and replies it could not send, by reason (packets it chose to ignore are in dhcp_packets)",
            m.dhcp_drops.clone(),
        );
        r.register(
            "tftp_transfers",
            "TFTP read requests, by result",
            m.tftp_transfers.clone(),
        );
        r.register(
            "tftp_sent_bytes",
            "Bytes of file data sent over TFTP",
            m.tftp_bytes.clone(),
        );
        r.register(
            "http_boot_requests",
            "Requests to the boot HTTP server's files, by result",
            m.http_boot_requests.clone(),
        );
        r.register(
            "agent_heartbeats",
            "Deploy agent heartbeats, by result",
            m.agent_heartbeats.clone(),
        );
        r.register(
            "agent_lookups",
            "Deploy agent lookups, by result",
            m.agent_lookups.clone(),
        );
        r.register(
            "discoveries",
            "Auto-discovery: machines enrolled, and boots or enrollments refused by the rate limits",
            m.discoveries.clone(),
        );
        r.register(
            "external_events",
            "External events accepted at /v1/events, by event type",
            m.external_events.clone(),
        );
        r.register(
            "bmc_command_duration_seconds",
            "BMC command latency, by driver and command",
            m.bmc_duration.clone(),
        );
        r.register(
            "bmc_command_failures",
            "BMC commands that failed, by driver and command",
            m.bmc_failures.clone(),
        );
        r.register(
            "api_requests",
            "API requests, by route pattern, method and status",
            m.api_requests.clone(),
        );
        r.register(
            "api_request_duration_seconds",
            "API request handling time, by route pattern, method and status",
            m.api_duration.clone(),
        );
        Metrics { registry, ..m }
    }
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// Create the registry now (at startup) rather than at the first event.
pub fn init() {
    LazyLock::force(&METRICS);
}

/// `label` if the family already has it or is still small, else `other`; `series` counts
/// the family's distinct label sets.
fn bounded<L: Clone + std::hash::Hash + Eq>(
    family: &Histograms<L>,
    series: &AtomicUsize,
    wanted: L,
    other: L,
) -> L {
    if family.get(&wanted).is_some() {
        return wanted;
    }
    if series.fetch_add(1, Ordering::Relaxed) < MAX_SERIES {
        wanted
    } else {
        other
    }
}

/// A provision state change (called from the one door, `NodeTask::process_event`).
/// `(resting_from, resting_to)`: whether the states are ones a node rests in (stable or
/// failed); a verb that sets a resting node to work starts its duration, coming to rest
/// ends it.
pub fn provision_transition(
    node: &str,
    from: &str,
    event: &'static str,
    to: &'static str,
    (resting_from, resting_to): (bool, bool),
) {
    let m = &*METRICS;
    m.transitions
        .get_or_create(&Transition {
            from: from.to_string(),
            event,
            to,
        })
        .inc();
    match event {
        "fail" | "abort" => step_ended(node, false),
        // A step's own park and resume: it is still running.
        "wait" | "hold" | "resume" | "unhold" => {}
        // Any other verb (undeploy of a parked deploy, ...) leaves the step behind unfinished:
        // forget it, so the next `steps::run` does not record it as a success.
        _ => step_forget(node),
    }
    let Ok(mut working) = m.working.lock() else {
        return;
    };
    if resting_from && !resting_to {
        working.insert(node.to_string(), (event, Instant::now()));
    } else if resting_to {
        if let Some((verb, started)) = working.remove(node) {
            m.provision_duration
                .get_or_create(&VerbDone { verb, to })
                .observe(started.elapsed().as_secs_f64());
        }
    }
}

/// A node left the database: forget any duration still running for it.
pub fn node_deleted(node: &str) {
    if let Ok(mut working) = METRICS.working.lock() {
        working.remove(node);
    }
    if let Ok(mut running) = METRICS.steps.lock() {
        running.remove(node);
    }
}

/// A node's deploy/clean/service step started. Steps that park the node (the agent runs
/// them, or a hold) end when the node's steps resume ([`step_ended`]) or it fails.
pub fn step_started(node: &str, interface: &str, step: &str) {
    if let Ok(mut running) = METRICS.steps.lock() {
        running.insert(
            node.to_string(),
            (interface.to_string(), step.to_string(), Instant::now()),
        );
    }
}

/// The node's running step (if any) is dropped without being observed.
fn step_forget(node: &str) {
    if let Ok(mut running) = METRICS.steps.lock() {
        running.remove(node);
    }
}

/// The node's running step (if any) ended, `ok` or failed: its duration is observed.
pub fn step_ended(node: &str, ok: bool) {
    let Some((interface, name, started)) = METRICS
        .steps
        .lock()
        .ok()
        .and_then(|mut running| running.remove(node))
    else {
        return;
    };
    step(&interface, &name, ok, started.elapsed());
}

/// A deploy/clean/service step finished (`ok`) or failed, after `took`.
pub fn step(interface: &str, step: &str, ok: bool, took: Duration) {
    let m = &*METRICS;
    let result = if ok { "success" } else { "failure" };
    let label = bounded(
        &m.step_duration,
        &m.step_series,
        Step {
            interface: interface.chars().take(32).collect(),
            step: step.chars().take(64).collect(),
            result,
        },
        Step {
            interface: "other".into(),
            step: "other".into(),
            result,
        },
    );
    m.step_duration
        .get_or_create(&label)
        .observe(took.as_secs_f64());
}

/// A DHCP packet and what became of it: `result` is `answered`, `handled` (a RELEASE or
/// DECLINE taken note of) or `dropped`,
/// `reason` the named reason (empty when answered).
pub fn dhcp_packet(message_type: &'static str, result: &'static str, reason: &'static str) {
    METRICS
        .dhcp_packets
        .get_or_create(&Dhcp {
            message_type,
            result,
            reason,
        })
        .inc();
}

/// `count` DHCP packets the server meant to answer were lost (or their replies were), for
/// `reason`.
pub fn dhcp_drops(reason: &'static str, count: u64) {
    METRICS
        .dhcp_drops
        .get_or_create(&Reason { reason })
        .inc_by(count);
}

/// A TFTP read request ended with `result`, after sending `bytes` of file data.
pub fn tftp_transfer(result: &'static str, bytes: u64) {
    let m = &*METRICS;
    m.tftp_transfers.get_or_create(&Outcome { result }).inc();
    m.tftp_bytes.inc_by(bytes);
}

/// A request for a file on the boot HTTP server.
pub fn http_boot_request(result: &'static str) {
    METRICS
        .http_boot_requests
        .get_or_create(&Outcome { result })
        .inc();
}

pub fn agent_heartbeat(result: &'static str) {
    METRICS
        .agent_heartbeats
        .get_or_create(&Outcome { result })
        .inc();
}

pub fn agent_lookup(result: &'static str) {
    METRICS
        .agent_lookups
        .get_or_create(&Outcome { result })
        .inc();
}

/// A discovered machine was enrolled.
pub fn discovery_enrolled() {
    METRICS
        .discoveries
        .get_or_create(&Outcome { result: "enrolled" })
        .inc();
}

/// A discovery boot or enrollment was refused by its per-minute limit (`what`:
/// "boot" or "enrollment").
pub fn discovery_refused(what: &'static str) {
    let result = if what == "boot" {
        "boot_refused"
    } else {
        "enrollment_refused"
    };
    METRICS.discoveries.get_or_create(&Outcome { result }).inc();
}

/// An external event (`network.bind_port`, ...) accepted at `/v1/events`.
pub fn external_event(event: &'static str) {
    METRICS
        .external_events
        .get_or_create(&ExternalEvent { event })
        .inc();
}

/// One BMC command: its latency, and a failure if it failed.
pub fn bmc_command(driver: &'static str, command: &'static str, ok: bool, took: Duration) {
    let m = &*METRICS;
    let label = Bmc { driver, command };
    m.bmc_duration
        .get_or_create(&label)
        .observe(took.as_secs_f64());
    if !ok {
        m.bmc_failures.get_or_create(&label).inc();
    }
}

/// Time a BMC command: `bmc_timed("ipmi", "power_on", async { ... }).await`.
pub async fn bmc_timed<T, E>(
    driver: &'static str,
    command: &'static str,
    fut: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, E> {
    let started = Instant::now();
    let r = fut.await;
    bmc_command(driver, command, r.is_ok(), started.elapsed());
    r
}

/// One API request: `route` is the matched pattern (`/v1/nodes/{node}`) or `unmatched`.
pub fn api_request(route: &str, method: &str, status: u16, took: Duration) {
    let m = &*METRICS;
    let method = match method {
        "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS" => method,
        _ => "other",
    };
    let label = Api {
        route: route.to_string(),
        method: method.to_string(),
        status,
    };
    m.api_requests.get_or_create(&label).inc();
    m.api_duration
        .get_or_create(&label)
        .observe(took.as_secs_f64());
}

/// Node counts at scrape time: (provision state, power state, in maintenance, count).
pub type NodeCounts = Vec<(String, Option<String>, bool, i64)>;

/// The whole exposition: the registry plus the node gauges from `nodes`, as OpenMetrics
/// (`openmetrics`) or the 0.0.4 text format.
pub fn encode(nodes: &NodeCounts, openmetrics: bool) -> Result<String, std::fmt::Error> {
    let mut scrape = Registry::with_prefix("ironbox");
    let by_provision = Family::<ProvisionState, Gauge>::default();
    let by_power = Family::<PowerState, Gauge>::default();
    let maintenance = Gauge::<i64>::default();
    for (provision, power, in_maintenance, n) in nodes {
        by_provision
            .get_or_create(&ProvisionState {
                provision_state: provision.clone(),
            })
            .inc_by(*n);
        by_power
            .get_or_create(&PowerState {
                power_state: power.clone().unwrap_or_else(|| "none".into()),
            })
            .inc_by(*n);
        if *in_maintenance {
            maintenance.inc_by(*n);
        }
    }
    scrape.register("nodes", "Nodes by provision state", by_provision);
    scrape.register(
        "nodes_by_power_state",
        "Nodes by power state (none: not yet known)",
        by_power,
    );
    scrape.register("nodes_in_maintenance", "Nodes in maintenance", maintenance);
    let mut out = String::with_capacity(16 * 1024);
    if openmetrics {
        prometheus_client::encoding::text::encode_registry(&mut out, &METRICS.registry)?;
        prometheus_client::encoding::text::encode_registry(&mut out, &scrape)?;
        prometheus_client::encoding::text::encode_eof(&mut out)?;
    } else {
        prometheus_client::encoding::prometheus_text::encode(&mut out, &METRICS.registry)?;
        prometheus_client::encoding::prometheus_text::encode(&mut out, &scrape)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
