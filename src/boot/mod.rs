//! The network boot data plane: DHCP (`dhcp/`), TFTP (`tftp.rs`) and HTTP boot (`http.rs`),
//! started when `[dhcp] interface` is set. It reads the store (ports, boot intents) and owns
//! DHCP leases; it never calls the conductor or drivers.
//!
//! The exchange, for a BIOS machine:
//! ```text
//! PXE ROM --DHCPDISCOVER (PXEClient, arch 0)--> dhcp: OFFER file=undionly.kpxe next-server=us
//! PXE ROM --TFTP RRQ undionly.kpxe-----------> tftp (from [pxe] ipxe_dir)
//! iPXE    --DHCPDISCOVER (user class iPXE)---> dhcp: OFFER file=http://us:8080/boot.ipxe
//! iPXE    --GET /boot.ipxe-------------------> http: chain /ipxe/<mac>
//! iPXE    --GET /ipxe/aa-bb-..---------------> http: script from the node's BootIntent
//! iPXE    --GET kernel, ramdisk--------------> http /files/... (or any URL in the intent)
//! ```
//! UEFI machines get `snponly.efi` instead; UEFI HTTP boot clients get its HTTP URL.

pub mod dhcp;
pub mod events;
pub mod http;
mod http_fast;
pub mod ra;
pub mod templates;
pub mod tftp;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use tokio_util::sync::CancellationToken;

use crate::config::{Config, DhcpMode};
use crate::db::Store;
use crate::model::boot::BootIntent;

#[derive(Debug, thiserror::Error)]
pub enum BootError {
    #[error("[dhcp] interface {0:?} does not exist or has no IPv4 address")]
    NoInterface(String),
    #[error("cannot bind {what}: {source}")]
    Bind {
        what: String,
        source: std::io::Error,
    },
    #[error("[dhcp] {key}: {reason}")]
    Config { key: &'static str, reason: String },
    #[error("DHCP leases: {0}")]
    Leases(#[from] crate::db::StoreError),
}

/// The provisioning interface and its IPv4 address.
#[derive(Debug, Clone)]
pub struct Net {
    pub iface: String,
    pub ip: Ipv4Addr,
    pub netmask: Ipv4Addr,
}

impl Net {
    pub fn of(iface: &str) -> Result<Net, BootError> {
        let addrs = if_addrs::get_if_addrs().map_err(|_| BootError::NoInterface(iface.into()))?;
        addrs
            .into_iter()
            .find_map(|a| match a.addr {
                if_addrs::IfAddr::V4(v4) if a.name == iface => Some(Net {
                    iface: iface.into(),
                    ip: v4.ip,
                    netmask: v4.netmask,
                }),
                _ => None,
            })
            .ok_or_else(|| BootError::NoInterface(iface.into()))
    }

    fn contains(&self, ip: Ipv4Addr) -> bool {
        let m = u32::from(self.netmask);
        u32::from(ip) & m == u32::from(self.ip) & m
    }
}

/// Everything the boot servers share.
#[derive(Clone)]
pub struct Boot {
    pub store: Store,
    pub net: Net,
    pub http_port: u16,
    pub http_root: PathBuf,
    pub ipxe_dir: PathBuf,
    pub ipxe_timeout: u32,
    /// The conductor's image cache, served at /images/ to agents.
    pub image_dir: PathBuf,
    /// Node history of what was served (None when history is off).
    pub events: Option<events::BootEvents>,
    /// What an unknown machine boots when discovery is on for this network.
    pub discovery: Option<DiscoveryBoot>,
}

/// The inspection ramdisk for unknown machines (`[inspector] kernel`/`ramdisk`, else the
/// deploy ramdisk), told to post its inventory to the boot network's HTTP server.
#[derive(Debug, Clone)]
pub struct DiscoveryBoot {
    pub kernel: String,
    pub ramdisk: String,
    /// Kernel parameters before `ipa-api-url` and the inspection callback.
    pub append: String,
}

impl Boot {
    pub fn base_url(&self) -> String {
        format!("http://{}:{}", self.net.ip, self.http_port)
    }

    /// A kernel/ramdisk reference from a boot intent as a URL iPXE can fetch.
    fn url(&self, r: &str) -> String {
        if r.contains("://") {
            r.to_string()
        } else {
            format!("{}/files/{}", self.base_url(), r.trim_start_matches('/'))
        }
    }

    /// The iPXE script for a machine with `mac` (lower-case, `:` separated).
    pub async fn script_for(&self, mac: &str) -> Result<String, templates::TemplateError> {
        let base = self.base_url();
        let retry = |why: &str| {
            templates::render("retry.ipxe", &[("mac", mac), ("why", why), ("base", &base)])
        };
        let owner = match self.store.mac_owner(mac.to_string()).await {
            Ok(o) => o,
            Err(e) => {
                tracing::warn!(mac, error = %e, "boot script lookup failed");
                return retry("lookup failed");
            }
        };
        let Some(owner) = owner else {
            return match &self.discovery {
                Some(d) => {
                    let callback = format!(
                        "{} ipa-api-url={base} ipa-inspection-callback-url={base}/v1/continue_inspection",
                        d.append
                    );
                    self.ramdisk_script(
                        "discovery",
                        "inspection",
                        &d.kernel,
                        &d.ramdisk,
                        callback.trim(),
                    )
                }
                None => retry("not a port of an enrolled node"),
            };
        };
        if !owner.pxe_enabled {
            return retry("port is not PXE enabled");
        }
        match BootIntent::of(&owner.driver_internal_info) {
            None => retry("nothing to boot in its current state"),
            Some(BootIntent::Local) => {
                templates::render("local.ipxe", &[("node", &owner.node_uuid)])
            }
            Some(BootIntent::Ramdisk {
                purpose,
                kernel,
                ramdisk,
                append,
            }) => self.ramdisk_script(&owner.node_uuid, &purpose, &kernel, &ramdisk, &append),
        }
    }

    fn ramdisk_script(
        &self,
        node: &str,
        purpose: &str,
        kernel: &str,
        ramdisk: &str,
        append: &str,
    ) -> Result<String, templates::TemplateError> {
        let timeout = if self.ipxe_timeout > 0 {
            format!("--timeout {} ", self.ipxe_timeout as u64 * 1000)
        } else {
            String::new()
        };
        templates::render(
            "ramdisk.ipxe",
            &[
                ("node", node),
                ("purpose", purpose),
                ("kernel", &self.url(kernel)),
                ("ramdisk", &self.url(ramdisk)),
                ("append", append),
                ("base", &self.base_url()),
                ("timeout", &timeout),
            ],
        )
    }
}

/// What `serve` started, for the log and endpoints.json.
#[derive(Debug, Default)]
pub struct Bound {
    pub dhcp: Vec<SocketAddr>,
    pub tftp: Option<SocketAddr>,
    pub http: Option<SocketAddr>,
    /// The DHCP socket threads; they end after cancellation, the last one once the lease
    /// writer has saved everything.
    pub dhcp_threads: Vec<std::thread::JoinHandle<()>>,
}

impl Bound {
    /// After cancellation: wait for the DHCP threads, so the last leases are written and the
    /// next start is a clean one.
    pub async fn join(self) {
        let threads = self.dhcp_threads;
        let _ = tokio::task::spawn_blocking(move || {
            for t in threads {
                let _ = t.join();
            }
        })
        .await;
    }
}

/// The discovery boot on `iface`, if unknown machines are answered there.
fn discovery_boot(config: &Config, iface: &str) -> Option<DiscoveryBoot> {
    let on = config.auto_discovery.on_network(iface);
    if config.dhcp.allow_unknown_clients {
        tracing::warn!("[dhcp] allow_unknown_clients is deprecated: use [auto_discovery] enabled (and networks)");
    }
    if !on && !config.dhcp.allow_unknown_clients {
        return None;
    }
    let i = &config.inspector;
    let pick = |own: &str, deploy: &str| {
        if own.is_empty() {
            deploy.to_string()
        } else {
            own.to_string()
        }
    };
    let append = [
        config.pxe.kernel_append_params.as_str(),
        i.extra_kernel_params.as_str(),
    ]
    .iter()
    .filter(|s| !s.trim().is_empty())
    .copied()
    .collect::<Vec<_>>()
    .join(" ");
    Some(DiscoveryBoot {
        kernel: pick(&i.kernel, &config.conductor.deploy_kernel),
        ramdisk: pick(&i.ramdisk, &config.conductor.deploy_ramdisk),
        append,
    })
}

/// Start the boot servers if `[dhcp] interface` is set.
pub async fn serve(
    config: &Config,
    store: Store,
    extra: Option<http::ExtraRoutes>,
    render: crate::http::framing::Render,
    owns: Option<crate::model::conductor::OwnsNode>,
    cancel: CancellationToken,
) -> Result<Option<Bound>, BootError> {
    let d = &config.dhcp;
    let Some(interface) = &d.interface else {
        return Ok(None);
    };
    let net = Net::of(interface)?;
    let p = &config.pxe;
    let http_root = p.http_root.clone();
    let _ = std::fs::create_dir_all(&http_root);
    let c = &config.conductor;
    let events = c
        .node_history
        .then(|| events::BootEvents::spawn(store.clone(), c.node_history_max_entries.max(1)));
    let boot = Boot {
        store: store.clone(),
        net: net.clone(),
        http_port: p.http_port,
        http_root,
        ipxe_dir: p.ipxe_dir.clone(),
        ipxe_timeout: p
            .ipxe_timeout
            .map_or(0, |t| u32::try_from(t.as_secs()).unwrap_or(u32::MAX)),
        image_dir: config.default.state_path.join("images"),
        events: events.clone(),
        discovery: discovery_boot(config, interface),
    };
    let mut bound = Bound {
        http: Some(http::serve(boot.clone(), extra, render, cancel.clone())?),
        tftp: Some(
            tftp::serve(
                boot.clone(),
                p.tftp_port,
                usize::try_from(p.tftp_max_transfers).unwrap_or(usize::MAX),
                cancel.clone(),
            )
            .await?,
        ),
        ..Bound::default()
    };
    let mode = match d.mode {
        DhcpMode::Off => None,
        DhcpMode::Proxy => Some(dhcp::decide::Mode::Proxy),
        DhcpMode::Full => Some(dhcp::decide::Mode::Full),
    };
    if d.ipv6_ra {
        ra::serve(&net.iface, cancel.clone())?;
    }
    if let Some(mode) = mode {
        // Load checked that full mode has a range, start <= end; the subnet needs the interface.
        let range = match (mode, d.range_start, d.range_end) {
            (dhcp::decide::Mode::Full, Some(a), Some(b)) => {
                if !net.contains(a) || !net.contains(b) {
                    return Err(BootError::Config {
                        key: "range_start",
                        reason: format!(
                            "{a}..{b} is not a range inside {}/{} ",
                            net.ip, net.netmask
                        ),
                    });
                }
                Some((a, b))
            }
            _ => None,
        };
        let server = dhcp::DhcpServer {
            store,
            net: net.clone(),
            mode,
            range,
            lease_time: d.lease_secs(),
            router: d.router,
            dns: d.dns_servers.clone(),
            allow_unknown: d.allow_unknown_clients || config.auto_discovery.on_network(interface),
            unknown_limit: std::sync::Arc::new(crate::model::rate::PerMinute::new(
                config.auto_discovery.max_boots_per_minute,
            )),
            http_port: p.http_port,
            events,
            owns,
        };
        (bound.dhcp, bound.dhcp_threads) = server.start(cancel.clone()).await?;
    }
    Ok(Some(bound))
}
