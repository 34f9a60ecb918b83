//! The built-in deploy agent: a wire-compatible stand-in for ironic-python-agent (IPA),
//! run inside the deploy ramdisk as `ironbox agent`.
//!
//! Start-up as IPA: read the kernel command line, wait for a NIC, discover the appliance's
//! API version, look the node up by MAC until `ipa-lookup-timeout`, keep the agent token,
//! serve the command API (default `0.0.0.0:9999`), heartbeat at once and right after every
//! async command finishes (otherwise every `heartbeat_timeout × U(0.3, 0.6)`).
//!
//! - `cmdline`: kernel parameters. `appliance`: lookup/heartbeat client.
//! - `api`: the REST API. `commands`: the command catalogue and executor.
//! - `inventory`: hardware facts from /sys and /proc. `hints`: root device hints.
//! - `lldp`: LLDP capture on raw sockets. `bmc`: the BMC's addresses via /dev/ipmi0.
//! - `write`: image streaming and checksums. `disk`: partition tables and wiping.
//! - `logs`: log capture for `log.collect_system_logs`. `ramdisk`: builds the initramfs.
//!
//! It runs on the machine being deployed, so it may use `model` and `image` but none of the
//! appliance's modules (api, app, conductor, db, drivers, boot, bmc, config).

pub mod api;
pub mod appliance;
pub mod bmc;
pub mod cmdline;
pub mod commands;
pub mod disk;
pub mod efi;
/// Root device hints live in `model` (the conductor applies them to inventories too).
pub use crate::model::hints;
pub mod inventory;
pub mod lldp;
pub mod logs;
pub mod ramdisk;
pub mod write;

use std::net::{SocketAddr, TcpListener, ToSocketAddrs, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::Rng;

use appliance::{Appliance, LookupOutcome};
use commands::{Commands, Context, Event};
use inventory::Machine;

/// What `agent_version` the heartbeat reports: IPA-shaped (a version Ironic can compare)
/// with our own version as the local part.
pub const AGENT_VERSION: &str = concat!("11.0.0+ironbox.", env!("CARGO_PKG_VERSION"));

/// Options of `ironbox agent`; anything unset comes from the kernel command line.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub api_url: Option<String>,
    /// Read this instead of `/proc/cmdline`.
    pub cmdline_file: Option<PathBuf>,
    /// Listen here (port 0 allowed; the bound port is advertised).
    pub listen: Option<SocketAddr>,
    pub advertise_host: Option<String>,
    /// MACs to look up with instead of the NICs in /sys/class/net.
    pub macs: Vec<String>,
    /// Files or devices to treat as the machine's disks instead of /sys/block.
    pub disks: Vec<PathBuf>,
    /// power_off / run_image end the process instead of the machine.
    pub no_power: bool,
    /// EFI variables directory instead of the firmware's (tests: no host NVRAM touched).
    pub efivars: Option<PathBuf>,
    /// Where `rescue.finalize_rescue` writes /etc (tests: never the host's); default /.
    pub rescue_root: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("reading the kernel command line {path}: {source}")]
    Cmdline {
        path: String,
        source: std::io::Error,
    },
    #[error("no appliance URL: pass --api-url or boot with ipa-api-url=")]
    NoApiUrl,
    #[error("bad MAC address {0:?}")]
    BadMac(String),
    #[error("no network interface with a MAC address to look the node up with")]
    NoMacs,
    #[error(transparent)]
    Appliance(#[from] appliance::ApplianceError),
    #[error("lookup did not find this machine within {0:?} (MACs {1})")]
    LookupTimeout(Duration, String),
    #[error(
        "the appliance already issued this node's agent token and this agent has none; \
         the node must be power-cycled by the appliance"
    )]
    TokenUnavailable,
    #[error("the agent token from the appliance is shorter than 32 characters")]
    ShortToken,
    #[error("binding the agent API to {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("cannot tell which address to advertise; pass --advertise-host")]
    NoAdvertiseHost,
}

/// Set up logging to stderr (and the in-memory ring `log.collect_system_logs` returns).
pub fn init_logging(ring: &logs::LogRing, debug: bool) {
    let default = if debug {
        "debug"
    } else {
        "info,actix_server=warn"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(ring.clone())
        .try_init();
}

fn read_cmdline(opts: &Options) -> Result<cmdline::KernelParams, AgentError> {
    let path = opts
        .cmdline_file
        .clone()
        .unwrap_or_else(|| PathBuf::from("/proc/cmdline"));
    let text = std::fs::read_to_string(&path).map_err(|source| AgentError::Cmdline {
        path: path.display().to_string(),
        source,
    })?;
    Ok(cmdline::parse(&text))
}

/// Ramdisk case: the NIC may still be getting its address from DHCP.
fn wait_for_macs(machine: &Machine) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let nics = machine.interfaces();
        let ready = nics
            .iter()
            .any(|n| n.has_carrier && (n.ipv4_address.is_some() || n.ipv6_address.is_some()));
        if ready || Instant::now() > deadline {
            return nics.into_iter().map(|n| n.mac_address).collect();
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The address the appliance reaches us at: the source address of the route to it
/// (what IPA does), unless told.
fn advertise_host(given: Option<&str>, api_url: &str) -> Result<String, AgentError> {
    if let Some(h) = given {
        return Ok(h.to_string());
    }
    let hostport = api_url
        .split("://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap_or_default();
    let with_port = if hostport
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        && !hostport.ends_with(']')
    {
        hostport.to_string()
    } else {
        let port = if api_url.starts_with("https") {
            443
        } else {
            80
        };
        format!("{hostport}:{port}")
    };
    let target = with_port
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or(AgentError::NoAdvertiseHost)?;
    let bind = if target.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    };
    let s = UdpSocket::bind(bind).map_err(|_| AgentError::NoAdvertiseHost)?;
    s.connect(target).map_err(|_| AgentError::NoAdvertiseHost)?;
    let ip = s
        .local_addr()
        .map_err(|_| AgentError::NoAdvertiseHost)?
        .ip();
    if ip.is_unspecified() {
        return Err(AgentError::NoAdvertiseHost);
    }
    Ok(ip.to_string())
}

fn lookup_loop(
    appl: &Appliance,
    macs: &[String],
    timeout: Duration,
    start_interval: Duration,
) -> Result<appliance::Lookup, AgentError> {
    let deadline = Instant::now() + timeout;
    let mut interval = start_interval.max(Duration::from_millis(100));
    let mut conflicts = 0;
    loop {
        let wait = match appl.lookup(macs, None) {
            Ok(LookupOutcome::Found(l)) => return Ok(*l),
            Ok(LookupOutcome::NotFound) => {
                tracing::info!(macs = %macs.join(","), "lookup: not found yet");
                None
            }
            Ok(LookupOutcome::Conflict) => {
                conflicts += 1;
                tracing::info!("lookup: node locked, waiting");
                // 5 s, 10 s, then 30 s for every further conflict.
                Some(Duration::from_secs(match conflicts {
                    1 => 5,
                    2 => 10,
                    _ => 30,
                }))
            }
            Err(e) => {
                tracing::warn!(error = %e, "lookup failed");
                None
            }
        };
        let sleep = wait.unwrap_or_else(|| {
            let jitter = rand::thread_rng().gen_range(1.0..1.5);
            let s = interval.mul_f64(jitter);
            interval = (interval * 2).min(Duration::from_secs(60));
            s
        });
        if Instant::now() + sleep > deadline {
            return Err(AgentError::LookupTimeout(timeout, macs.join(",")));
        }
        std::thread::sleep(sleep);
    }
}

fn power(event: Event, no_power: bool) {
    let what = if event == Event::Reboot {
        "reboot"
    } else {
        "power off"
    };
    if no_power {
        tracing::info!("{what} requested; --no-power: exiting instead");
        return;
    }
    tracing::info!("{what} now");
    // SAFETY: sync and reboot take no pointers; reboot only returns on failure.
    unsafe {
        libc::sync();
        let cmd = if event == Event::Reboot {
            libc::RB_AUTOBOOT
        } else {
            libc::RB_POWER_OFF
        };
        if libc::reboot(cmd) != 0 {
            tracing::error!(error = %std::io::Error::last_os_error(), "reboot(2) failed");
        }
    }
}

/// In-band inspection: POST the inventory to the callback (IPA retries 5 times, 5–30 s
/// apart); a failure is logged and start-up goes on, as IPA does.
fn inspect(appl: &Appliance, url: &str, machine: &Machine, params: &cmdline::KernelParams) {
    let data = inspection_data(machine, params);
    for (attempt, wait) in [5u64, 10, 20, 30, 0].into_iter().enumerate() {
        match appl.continue_inspection(url, &data) {
            Ok(_) => {
                tracing::info!("inspection data sent");
                return;
            }
            Err(e) if wait > 0 => {
                tracing::warn!(error = %e, attempt, "inspection callback failed; retrying");
                std::thread::sleep(Duration::from_secs(wait));
            }
            Err(e) => tracing::error!(error = %e, "inspection callback failed; giving up"),
        }
    }
}

/// What IPA's collectors send: `default` (inventory, root disk, boot interface) always,
/// `pci-devices` and `lldp` when named in `ipa-inspection-collectors`; others are ignored.
fn inspection_data(machine: &Machine, params: &cmdline::KernelParams) -> serde_json::Value {
    use serde_json::{json, Map, Value};
    let root_disk = hints::choose(&machine.disks(), None, params.min_root_disk).ok();
    let mut collectors = vec!["default"];
    let mut data = Map::new();
    data.insert("inventory".into(), machine.inventory());
    data.insert("root_disk".into(), json!(root_disk));
    data.insert("boot_interface".into(), json!(params.boot_mac));
    let wants = |c: &str| params.collectors.iter().any(|n| n == c);
    if wants("pci-devices") {
        collectors.push("pci-devices");
        data.insert("pci_devices".into(), json!(machine.pci_devices()));
    }
    if wants("lldp") {
        collectors.push("lldp");
        let raw: Map<String, Value> = machine
            .lldp
            .iter()
            .flatten()
            .map(|(name, tlvs)| (name.clone(), crate::model::lldp::tlvs_to_json(tlvs)))
            .collect();
        data.insert("lldp_raw".into(), Value::Object(raw));
    }
    data.insert(
        "configuration".into(),
        json!({"collectors": collectors, "managers": [
            {"name": "generic_hardware_manager", "version": "1.2"}]}),
    );
    Value::Object(data)
}

/// LLDP (when asked for) and the BMC's addresses: read once, before the first inventory.
/// Skipped for a simulated machine (`--mac` given): the host's devices are not its own.
fn probe(machine: &mut Machine, params: &cmdline::KernelParams) {
    if !machine.mac_override.is_empty() {
        return;
    }
    if let Some(path) = bmc::find_device(Path::new("/dev")) {
        match bmc::Device::open(&path) {
            Ok(mut dev) => machine.bmc = bmc::read(Some(&mut dev)),
            Err(e) => {
                tracing::warn!(device = %path.display(), error = %e, "cannot open the IPMI device")
            }
        }
        tracing::info!(bmc = ?machine.bmc, "BMC addresses");
    }
    let lldp_collector = params.collectors.iter().any(|c| c == "lldp");
    if params.collect_lldp || lldp_collector {
        let names: Vec<String> = machine.interfaces().into_iter().map(|i| i.name).collect();
        tracing::info!(interfaces = %names.join(","), timeout = ?params.lldp_timeout, "collecting LLDP");
        machine.lldp = Some(lldp::collect(&names, params.lldp_timeout));
    }
}

/// Run the agent until it is powered off, rebooted or locked down (or fails to start).
pub fn run(opts: Options) -> Result<(), AgentError> {
    let params = read_cmdline(&opts)?;
    let ring = logs::LogRing::default();
    init_logging(&ring, params.debug);
    let api_url = opts.api_url.clone().or(params.api_url.clone());
    if api_url.is_none() && params.inspection_callback_url.is_none() {
        return Err(AgentError::NoApiUrl);
    }
    let macs = opts
        .macs
        .iter()
        .map(|m| {
            crate::model::mac::Mac::parse_lenient(m)
                .map(|m| m.to_string())
                .ok_or_else(|| AgentError::BadMac(m.clone()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut machine = Machine {
        disk_override: opts.disks.clone(),
        mac_override: macs,
        efivars_override: opts.efivars.clone(),
        boot_mac: params.boot_mac.clone(),
        ..Machine::default()
    };
    let macs = if machine.mac_override.is_empty() {
        wait_for_macs(&machine)
    } else {
        machine.mac_override.clone()
    };
    if macs.is_empty() {
        return Err(AgentError::NoMacs);
    }
    tracing::info!(version = AGENT_VERSION, api = ?api_url, macs = %macs.join(","), "ironbox agent starting");
    probe(&mut machine, &params);
    let insecure = params
        .raw
        .get("ipa-insecure")
        .is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true"));
    let mut appl = Appliance::new(
        api_url.as_deref().unwrap_or_default(),
        insecure,
        Duration::from_secs(30),
    )?;

    if let Some(cb) = &params.inspection_callback_url {
        inspect(&appl, cb, &machine, &params);
    }
    let Some(api_url) = api_url else {
        tracing::info!("no ipa-api-url: nothing to do after inspection");
        return Ok(());
    };

    let version = appl.discover_version();
    tracing::info!(version = %format!("{}.{}", version.0, version.1), "appliance API version");
    let found = lookup_loop(&appl, &macs, params.lookup_timeout, params.lookup_interval)?;
    let token = found
        .token
        .clone()
        .or(params.agent_token.clone())
        .ok_or(AgentError::TokenUnavailable)?;
    if token.len() < 32 {
        return Err(AgentError::ShortToken);
    }
    tracing::info!(node = %found.uuid, "lookup succeeded");

    let listen = opts.listen.unwrap_or_else(|| {
        let host = params
            .listen_host
            .clone()
            .unwrap_or_else(|| "0.0.0.0".into());
        format!("{host}:{}", params.listen_port)
            .parse()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], params.listen_port)))
    });
    let listener = TcpListener::bind(listen).map_err(|source| AgentError::Bind {
        addr: listen.to_string(),
        source,
    })?;
    let bound = listener.local_addr().map_err(|source| AgentError::Bind {
        addr: listen.to_string(),
        source,
    })?;
    let host = advertise_host(
        opts.advertise_host
            .as_deref()
            .or(params.advertise_host.as_deref()),
        &api_url,
    )?;
    let port = if opts.listen.is_some() {
        bound.port()
    } else {
        params.advertise_port.unwrap_or(bound.port())
    };
    let callback_url = if host.contains(':') {
        format!("http://[{host}]:{port}")
    } else {
        format!("http://{host}:{port}")
    };

    let (tx, rx) = mpsc::channel();
    let commands = Commands::new(Context {
        machine,
        download: write::Download {
            retries: params.download_retries,
            retry_interval: params.download_retry_interval,
            connect_timeout: params.download_connect_timeout,
            insecure,
        },
        md5_allowed: found.md5_allowed,
        min_root_disk: params.min_root_disk,
        logs: ring,
        node: Mutex::new(found.node.clone()),
        partition_uuids: Mutex::new(None),
        events: Mutex::new(tx),
        rescue_root: opts
            .rescue_root
            .clone()
            .unwrap_or_else(|| PathBuf::from("/")),
    });
    let started_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let server = api::spawn(
        api::Server {
            commands,
            token: token.clone(),
            version: AGENT_VERSION.into(),
            started_at,
        },
        listener,
    )
    .map_err(|source| AgentError::Bind {
        addr: bound.to_string(),
        source,
    })?;
    tracing::info!(listen = %bound, callback_url = %callback_url, "agent API serving");

    let hb_timeout = found.heartbeat_timeout.max(5.0);
    let mut next = Duration::ZERO;
    loop {
        let event = match rx.recv_timeout(next) {
            Ok(e) => Some(e),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => return Ok(()),
        };
        match event {
            Some(Event::PowerOff) | Some(Event::Reboot) => {
                let e = event.unwrap_or(Event::PowerOff);
                power(e, opts.no_power);
                drop(server.stop(false));
                return Ok(());
            }
            Some(Event::Rescued) => {
                // As IPA: the API is not left open on the rescued machine; the ramdisk's
                // init offers the rescue user's login once the agent has gone.
                tracing::info!("rescued: no more heartbeats or commands; the agent exits");
                // The event comes before finalize_rescue's reply is written: a graceful
                // stop lets that request finish before the process ends.
                futures_lite::future::block_on(server.stop(true));
                return Ok(());
            }
            Some(Event::Lockdown) => {
                tracing::info!("lockdown: no more heartbeats or commands");
                drop(server.stop(false));
                if opts.no_power {
                    return Ok(());
                }
                loop {
                    std::thread::park();
                }
            }
            Some(Event::CommandDone) | None => {}
        }
        next = match appl.heartbeat(&found.uuid, &callback_url, &token, AGENT_VERSION) {
            Ok(()) => {
                tracing::debug!("heartbeat sent");
                Duration::from_secs_f64(hb_timeout * rand::thread_rng().gen_range(0.3..0.6))
            }
            Err(e) => {
                tracing::warn!(error = %e, "heartbeat failed; retrying");
                Duration::from_secs_f64(5.0 * rand::thread_rng().gen_range(1.0..2.0))
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inspection_data_follows_the_collectors() {
        let (_t, mut m) = inventory::tests::fixture();
        m.lldp = Some(std::collections::BTreeMap::from([(
            "eth0".to_string(),
            vec![(5, b"tor".to_vec())],
        )]));
        let d = inspection_data(&m, &cmdline::parse("BOOTIF=01-52-54-00-12-34-56"));
        assert_eq!(
            d["configuration"]["collectors"],
            serde_json::json!(["default", "pci-devices"])
        );
        assert!(d["pci_devices"].is_array());
        assert!(d.get("lldp_raw").is_none());
        assert_eq!(d["boot_interface"], "52:54:00:12:34:56");
        assert_eq!(
            d["inventory"]["interfaces"][0]["lldp"],
            serde_json::json!([[5, "746f72"]])
        );
        let d = inspection_data(
            &m,
            &cmdline::parse("ipa-inspection-collectors=default,lldp,logs"),
        );
        assert_eq!(
            d["configuration"]["collectors"],
            serde_json::json!(["default", "lldp"])
        );
        assert!(d.get("pci_devices").is_none());
        assert_eq!(d["lldp_raw"], serde_json::json!({"eth0": [[5, "746f72"]]}));
    }

    #[test]
    fn advertise_host_is_the_route_source() {
        assert_eq!(
            advertise_host(Some("10.1.1.1"), "http://x").unwrap(),
            "10.1.1.1"
        );
        assert_eq!(
            advertise_host(None, "http://127.0.0.1:6385").unwrap(),
            "127.0.0.1"
        );
        assert_eq!(
            advertise_host(None, "http://127.0.0.1/").unwrap(),
            "127.0.0.1"
        );
    }
}
