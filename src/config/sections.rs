//! The typed sections of `Config`: the file's section and key names, with enums for closed
//! sets of strings, addresses as `IpAddr`/`Ipv4Addr`, times as `Duration` (converted once
//! from the file's units: seconds unless the key ends in `_ms`), paths as `PathBuf`, and
//! `Option` where "unset" (empty or 0) means off or unlimited.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// `[DEFAULT] auth_strategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthStrategy {
    Noauth,
    HttpBasic,
}

/// `[dhcp] mode`: `off` (another DHCP server points machines at us), `proxy` (boot
/// information only) or `full` (addresses too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DhcpMode {
    Off,
    Proxy,
    Full,
}

/// `[agent] image_download_source`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageDownloadSource {
    /// The agent downloads http(s) images itself.
    Http,
    /// ironbox downloads them into its cache and serves them.
    Local,
}

/// `[redfish] auth_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedfishAuthType {
    Basic,
    Session,
    Auto,
}

/// `[deploy] default_boot_mode`, and a node's boot mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootMode {
    Bios,
    Uefi,
}

/// `[conductor] rescue_password_hash_algorithm`: the crypt(3) method of the rescue
/// password the agent is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RescueHash {
    Sha256,
    Sha512,
}

/// `[metrics] auth`: who may scrape `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsAuth {
    /// Whatever `[DEFAULT] auth_strategy` asks of the API.
    Api,
    /// Anyone who reaches the API listener.
    None,
}

/// One place for each closed set: its names, parsed and shown the same way.
macro_rules! named {
    ($t:ident { $($v:ident = $s:literal),+ $(,)? }) => {
        impl $t {
            pub const NAMES: &'static [&'static str] = &[$($s),+];

            pub fn parse(s: &str) -> Option<$t> {
                match s {
                    $($s => Some($t::$v),)+
                    _ => None,
                }
            }

            pub fn as_str(self) -> &'static str {
                match self {
                    $($t::$v => $s,)+
                }
            }
        }

        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

named!(AuthStrategy { Noauth = "noauth", HttpBasic = "http_basic" });
named!(DhcpMode { Off = "off", Proxy = "proxy", Full = "full" });
named!(ImageDownloadSource { Http = "http", Local = "local" });
named!(RedfishAuthType { Basic = "basic", Session = "session", Auto = "auto" });
named!(BootMode { Bios = "bios", Uefi = "uefi" });
named!(RescueHash { Sha256 = "sha256", Sha512 = "sha512" });
named!(MetricsAuth { Api = "api", None = "none" });
named!(AddPorts { All = "all", Active = "active", Pxe = "pxe", Disabled = "disabled" });
named!(KeepPorts { All = "all", Present = "present", Added = "added" });

/// `[inspector] add_ports`: which inventory MACs become ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddPorts {
    All,
    Active,
    Pxe,
    Disabled,
}

/// `[inspector] keep_ports`: which existing ports survive an inspection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeepPorts {
    All,
    Present,
    Added,
}

#[derive(Debug, Clone)]
pub struct DefaultSection {
    /// This conductor's name (the machine's host name when the file names none).
    pub host: String,
    pub state_path: PathBuf,
    pub auth_strategy: AuthStrategy,
    pub http_basic_auth_user_file: PathBuf,
    pub debug: bool,
    pub force_raw_images: bool,
    pub enabled_hardware_types: Vec<String>,
    pub enabled_bios_interfaces: Vec<String>,
    pub enabled_boot_interfaces: Vec<String>,
    pub enabled_console_interfaces: Vec<String>,
    pub enabled_deploy_interfaces: Vec<String>,
    pub enabled_firmware_interfaces: Vec<String>,
    pub enabled_inspect_interfaces: Vec<String>,
    pub enabled_management_interfaces: Vec<String>,
    pub enabled_network_interfaces: Vec<String>,
    pub enabled_power_interfaces: Vec<String>,
    pub enabled_raid_interfaces: Vec<String>,
    pub enabled_rescue_interfaces: Vec<String>,
    pub enabled_storage_interfaces: Vec<String>,
    pub enabled_vendor_interfaces: Vec<String>,
    pub default_bios_interface: Option<String>,
    pub default_boot_interface: Option<String>,
    pub default_console_interface: Option<String>,
    pub default_deploy_interface: Option<String>,
    pub default_firmware_interface: Option<String>,
    pub default_inspect_interface: Option<String>,
    pub default_management_interface: Option<String>,
    pub default_network_interface: Option<String>,
    pub default_power_interface: Option<String>,
    pub default_raid_interface: Option<String>,
    pub default_rescue_interface: Option<String>,
    pub default_storage_interface: Option<String>,
    pub default_vendor_interface: Option<String>,
    pub default_resource_class: Option<String>,
    pub default_portgroup_mode: String,
}

#[derive(Debug, Clone)]
pub struct ApiSection {
    pub host_ip: IpAddr,
    pub port: u16,
    /// An http:// or https:// URL.
    pub public_endpoint: Option<String>,
    pub max_limit: u32,
    /// KiB.
    pub max_json_body_size: u32,
    pub max_json_body_size_provision: u32,
    pub max_json_body_size_inspection: u32,
    pub max_json_body_depth: u32,
    pub enable_ssl_api: bool,
    pub allow_noauth_on_public: bool,
    /// 0 = one per core.
    pub api_workers: u32,
}

impl ApiSection {
    /// Where the API listens.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::new(self.host_ip, self.port)
    }
}

#[derive(Debug, Clone)]
pub struct ConductorSection {
    pub heartbeat_interval: Duration,
    /// Longer than `heartbeat_interval`.
    pub heartbeat_timeout: Duration,
    pub conductor_group: String,
    pub allow_deleting_available_nodes: bool,
    pub node_history_max_entries: u32,
    pub node_history: bool,
    pub workers_pool_size: u32,
    pub node_locked_retry_attempts: u32,
    pub node_locked_retry_interval_ms: Duration,
    pub automated_clean: bool,
    pub allow_provisioning_in_maintenance: bool,
    /// None = no power state sync.
    pub sync_power_state_interval: Option<Duration>,
    pub sync_power_state_workers: u32,
    pub power_state_sync_max_retries: u32,
    pub force_power_state_during_sync: bool,
    /// None = no power failure recovery.
    pub power_failure_recovery_interval: Option<Duration>,
    pub power_state_change_timeout: Duration,
    pub soft_power_off_timeout: Duration,
    /// None = wait for the agent forever.
    pub deploy_callback_timeout: Option<Duration>,
    pub clean_callback_timeout: Option<Duration>,
    pub inspect_wait_timeout: Option<Duration>,
    pub rescue_callback_timeout: Option<Duration>,
    pub service_callback_timeout: Option<Duration>,
    pub check_provision_state_interval: Duration,
    pub deploy_kernel: String,
    pub deploy_ramdisk: String,
    pub rescue_kernel: String,
    pub rescue_ramdisk: String,
    pub rescue_password_hash_algorithm: RescueHash,
}

#[derive(Debug, Clone)]
pub struct DatabaseSection {
    /// The SQLite file the `connection` URL names (`<state_path>/ironbox.sqlite` when empty).
    pub connection: PathBuf,
    /// The `postgresql://` URL when `connection` names PostgreSQL (then the file is unused).
    pub postgres: Option<String>,
    pub busy_timeout_ms: Duration,
    pub max_pool_size: u32,
}

impl DatabaseSection {
    /// The busy timeout as SQLite takes it.
    pub fn busy_timeout_millis(&self) -> u32 {
        u32::try_from(self.busy_timeout_ms.as_millis()).unwrap_or(u32::MAX)
    }
}

#[derive(Debug, Clone)]
pub struct SslSection {
    /// Set (checked in load) when `[api] enable_ssl_api` is.
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

/// A fake-driver delay: a random time between `min` and `max`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Delay {
    pub min: Duration,
    pub max: Duration,
}

#[derive(Debug, Clone, Default)]
pub struct FakeSection {
    pub power_delay: Delay,
    pub boot_delay: Delay,
    pub deploy_delay: Delay,
    pub vendor_delay: Delay,
    pub management_delay: Delay,
    pub inspect_delay: Delay,
    pub raid_delay: Delay,
    pub bios_delay: Delay,
    pub storage_delay: Delay,
    pub rescue_delay: Delay,
}

#[derive(Debug, Clone)]
pub struct IpmiSection {
    pub command_retry_timeout: Duration,
    pub command_timeout_ms: Duration,
}

#[derive(Debug, Clone)]
pub struct RedfishSection {
    pub connection_attempts: u32,
    pub connection_retry_interval: Duration,
    pub request_timeout: Duration,
    pub auth_type: RedfishAuthType,
    pub firmware_update_status_interval: Duration,
    pub firmware_update_overall_timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct DhcpSection {
    /// None = no boot servers.
    pub interface: Option<String>,
    pub mode: DhcpMode,
    /// Set, and start <= end, when `mode` is full; whether both lie in the interface's
    /// subnet needs the live interface and is checked in `boot`.
    pub range_start: Option<Ipv4Addr>,
    pub range_end: Option<Ipv4Addr>,
    pub lease_time: Duration,
    pub router: Option<Ipv4Addr>,
    pub dns_servers: Vec<Ipv4Addr>,
    pub allow_unknown_clients: bool,
    pub ipv6_ra: bool,
}

impl DhcpSection {
    /// The lease time in whole seconds, as DHCP sends it (load keeps it within u32).
    pub fn lease_secs(&self) -> u32 {
        u32::try_from(self.lease_time.as_secs()).unwrap_or(u32::MAX)
    }
}

#[derive(Debug, Clone)]
pub struct PxeSection {
    pub ipxe_dir: PathBuf,
    pub tftp_port: u16,
    /// At least 1.
    pub tftp_max_transfers: u32,
    pub http_port: u16,
    /// `<state_path>/httpboot` when the file names none.
    pub http_root: PathBuf,
    pub kernel_append_params: String,
    /// None = no limit per download.
    pub ipxe_timeout: Option<Duration>,
    /// MiB.
    pub image_cache_size: u64,
    /// The file gives minutes.
    pub image_cache_ttl: Duration,
}

#[derive(Debug, Clone)]
pub struct AgentSection {
    pub command_timeout: Duration,
    pub require_tls: bool,
    pub heartbeat_timeout: Duration,
    pub image_download_source: ImageDownloadSource,
    pub allow_md5_checksum: bool,
    pub post_deploy_get_power_state_retries: u32,
    pub post_deploy_get_power_state_retry_interval_ms: Duration,
}

#[derive(Debug, Clone)]
pub struct DeploySection {
    pub erase_devices_priority: i64,
    pub erase_devices_metadata_priority: i64,
    pub default_boot_mode: BootMode,
}

#[derive(Debug, Clone)]
pub struct MetricsSection {
    pub enabled: bool,
    pub auth: MetricsAuth,
}

#[derive(Debug, Clone)]
pub struct ConsoleSection {
    /// `[console] port_range`, inclusive; `None` = any free port.
    pub port_range: Option<(u16, u16)>,
    pub socat_address: IpAddr,
}

#[derive(Debug, Clone)]
pub struct AutoDiscoverySection {
    pub enabled: bool,
    /// An enabled hardware type when `enabled` (checked at load).
    pub driver: String,
    /// Empty = every provisioning interface.
    pub networks: Vec<String>,
    /// None = no limit.
    pub max_enrollments_per_minute: Option<u32>,
    pub max_boots_per_minute: Option<u32>,
}

impl AutoDiscoverySection {
    /// Whether unknown machines are discovered on provisioning interface `iface`.
    pub fn on_network(&self, iface: &str) -> bool {
        self.enabled && (self.networks.is_empty() || self.networks.iter().any(|n| n == iface))
    }
}

#[derive(Debug, Clone)]
pub struct InspectorSection {
    pub add_ports: AddPorts,
    pub keep_ports: KeepPorts,
    pub update_pxe_enabled: bool,
    pub power_off: bool,
    pub disk_partitioning_spacing: bool,
    pub extra_kernel_params: String,
    /// Empty = `[conductor] deploy_kernel` / `deploy_ramdisk`.
    pub kernel: String,
    pub ramdisk: String,
}

/// `[inspection_rules]`: the built-in rules, read and checked when the file is loaded.
#[derive(Debug, Clone, Default)]
pub struct InspectionRulesSection {
    pub built_in_rules: Vec<crate::model::inspection_rule::InspectionRule>,
    pub mask_secrets: MaskSecrets,
    /// Lower-case host names or IP literals.
    pub api_call_allowed_hosts: Vec<String>,
}

/// Whether the inspection data rules see has its secrets masked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MaskSecrets {
    #[default]
    Always,
    Never,
    /// Unmasked for sensitive rules only.
    Sensitive,
}

impl MaskSecrets {
    pub const NAMES: &'static [&'static str] = &["always", "never", "sensitive"];
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "always" => Some(Self::Always),
            "never" => Some(Self::Never),
            "sensitive" => Some(Self::Sensitive),
            _ => None,
        }
    }
}
