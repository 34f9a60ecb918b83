//! Serde mirror of `ironic.toml`: one struct per section, Ironic's option names, the
//! zero-config defaults, and no unknown keys. Times are plain integers in the file's units
//! (signed, so a negative value is reported by key); `sections.rs` checks and types them.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(rename = "DEFAULT", default)]
    pub default: DefaultSection,
    #[serde(default)]
    pub api: ApiSection,
    #[serde(default)]
    pub conductor: ConductorSection,
    #[serde(default)]
    pub database: DatabaseSection,
    #[serde(default)]
    pub ssl: SslSection,
    #[serde(default)]
    pub fake: FakeSection,
    #[serde(default)]
    pub ipmi: IpmiSection,
    #[serde(default)]
    pub redfish: RedfishSection,
    #[serde(default)]
    pub dhcp: DhcpSection,
    #[serde(default)]
    pub pxe: PxeSection,
    #[serde(default)]
    pub agent: AgentSection,
    #[serde(default)]
    pub deploy: DeploySection,
    #[serde(default)]
    pub metrics: MetricsSection,
    #[serde(default)]
    pub console: ConsoleSection,
    #[serde(default)]
    pub auto_discovery: AutoDiscoverySection,
    #[serde(default)]
    pub inspector: InspectorSection,
    #[serde(default)]
    pub inspection_rules: InspectionRulesSection,
    #[serde(default)]
    pub json_rpc: super::json_rpc::JsonRpcFile,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DefaultSection {
    /// Name of this conductor; defaults to the machine's host name.
    pub host: String,
    /// Directory for the database, endpoints file and caches (Ironic's `state_path`).
    pub state_path: String,
    /// `noauth` or `http_basic`.
    pub auth_strategy: String,
    /// htpasswd file (bcrypt hashes) used by `http_basic`.
    pub http_basic_auth_user_file: String,
    /// `none` (one member does all its work) or `json-rpc` (members forward to owners).
    pub rpc_transport: String,
    /// Log at debug level.
    pub debug: bool,
    /// Convert qcow2 images to raw in ironbox's image cache before serving them.
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
    /// Resource class given to new nodes that name none.
    pub default_resource_class: Option<String>,
    /// Bonding mode given to new portgroups that name none.
    pub default_portgroup_mode: String,
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

impl Default for DefaultSection {
    fn default() -> Self {
        Self {
            host: String::new(),
            state_path: "./ironbox-data".into(),
            auth_strategy: "noauth".into(),
            http_basic_auth_user_file: "/etc/ironbox/htpasswd".into(),
            rpc_transport: "none".into(),
            debug: false,
            force_raw_images: true,
            enabled_hardware_types: strings(&[
                "fake-hardware",
                "manual-management",
                "ipmi",
                "redfish",
                "idrac",
            ]),
            enabled_bios_interfaces: strings(&["no-bios", "fake", "redfish", "idrac-redfish"]),
            enabled_boot_interfaces: strings(&[
                "fake",
                "ipxe",
                "pxe",
                "redfish-virtual-media",
                "idrac-redfish-virtual-media",
            ]),
            enabled_console_interfaces: strings(&["no-console", "fake", "ipmitool-socat"]),
            enabled_deploy_interfaces: strings(&["direct", "fake", "ramdisk", "custom-agent"]),
            enabled_firmware_interfaces: strings(&["no-firmware", "fake", "redfish"]),
            enabled_inspect_interfaces: strings(&[
                "agent",
                "no-inspect",
                "fake",
                "redfish",
                "idrac-redfish",
            ]),
            enabled_management_interfaces: strings(&[
                "fake",
                "noop",
                "ipmitool",
                "redfish",
                "idrac-redfish",
            ]),
            enabled_network_interfaces: strings(&["flat", "noop"]),
            enabled_power_interfaces: strings(&["fake", "ipmitool", "redfish", "idrac-redfish"]),
            enabled_raid_interfaces: strings(&["no-raid", "fake"]),
            enabled_rescue_interfaces: strings(&["no-rescue", "fake", "agent"]),
            enabled_storage_interfaces: strings(&["noop", "fake"]),
            enabled_vendor_interfaces: strings(&["no-vendor", "fake", "redfish", "idrac-redfish"]),
            default_bios_interface: None,
            default_boot_interface: None,
            default_console_interface: None,
            default_deploy_interface: None,
            default_firmware_interface: None,
            default_inspect_interface: None,
            default_management_interface: None,
            default_network_interface: None,
            default_power_interface: None,
            default_raid_interface: None,
            default_rescue_interface: None,
            default_storage_interface: None,
            default_vendor_interface: None,
            default_resource_class: None,
            default_portgroup_mode: "active-backup".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiSection {
    /// Address the API listens on.
    pub host_ip: String,
    /// Port the API listens on (0 picks a free one; see `<state_path>/endpoints.json`).
    pub port: u16,
    /// Base URL used in links; by default taken from each request's Host.
    pub public_endpoint: Option<String>,
    /// Largest page a list request may return.
    pub max_limit: u32,
    /// Body size limits in KiB: ordinary requests, provisioning requests (configdrives),
    /// and inspection data from agents.
    pub max_json_body_size: u32,
    pub max_json_body_size_provision: u32,
    pub max_json_body_size_inspection: u32,
    /// Maximum nesting of a JSON body.
    pub max_json_body_depth: u32,
    /// Serve the API over HTTPS with `[ssl] cert_file`/`key_file`.
    pub enable_ssl_api: bool,
    /// Allow `noauth` on a non-loopback address. Anyone who reaches the port owns every BMC.
    pub allow_noauth_on_public: bool,
    /// API worker threads (0 = one per core).
    pub api_workers: u32,
}

impl Default for ApiSection {
    fn default() -> Self {
        Self {
            host_ip: "127.0.0.1".into(),
            port: 6385,
            public_endpoint: None,
            max_limit: 1000,
            max_json_body_size: 1024,
            max_json_body_size_provision: 65536,
            max_json_body_size_inspection: 16384,
            max_json_body_depth: 25,
            enable_ssl_api: false,
            allow_noauth_on_public: false,
            api_workers: 0,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConductorSection {
    /// Seconds between conductor heartbeats.
    pub heartbeat_interval: i64,
    /// Seconds after the last heartbeat before a conductor counts as dead.
    pub heartbeat_timeout: i64,
    /// This conductor's group; nodes of other groups are not its to manage.
    pub conductor_group: String,
    /// Whether nodes in `available` may be deleted.
    pub allow_deleting_available_nodes: bool,
    /// History entries kept per node; older ones are pruned.
    pub node_history_max_entries: u32,
    /// Record node history at all.
    pub node_history: bool,
    /// Concurrent background jobs (deploys, cleans, power actions); a full pool answers 503.
    pub workers_pool_size: u32,
    /// How often, and how long apart, a locked node is retried before answering 409.
    pub node_locked_retry_attempts: u32,
    pub node_locked_retry_interval_ms: i64,
    /// Run automated cleaning on provide and after undeploy.
    pub automated_clean: bool,
    /// Allow deploying and cleaning nodes in maintenance.
    pub allow_provisioning_in_maintenance: bool,
    /// Seconds between power state syncs (0 = off); parallel reads; failures before maintenance.
    pub sync_power_state_interval: i64,
    pub sync_power_state_workers: u32,
    pub power_state_sync_max_retries: u32,
    /// Push the recorded power state back onto hardware that drifted (Ironic's default),
    /// instead of recording what the hardware says.
    pub force_power_state_during_sync: bool,
    /// Seconds between retries of nodes in maintenance for a power failure (0 = off).
    pub power_failure_recovery_interval: i64,
    /// Seconds a power change may take; graceful (soft) power-off wait.
    pub power_state_change_timeout: i64,
    pub soft_power_off_timeout: i64,
    /// Seconds a node may wait for its agent (0 = forever), and how often that is checked.
    pub deploy_callback_timeout: i64,
    pub clean_callback_timeout: i64,
    pub inspect_wait_timeout: i64,
    pub rescue_callback_timeout: i64,
    pub service_callback_timeout: i64,
    pub check_provision_state_interval: i64,
    /// Deploy ramdisk used when a node's driver_info names none: an http(s) URL or a file
    /// under `[pxe] http_root` (`ironbox ramdisk build --out <http_root>` writes these).
    pub deploy_kernel: String,
    pub deploy_ramdisk: String,
    /// Rescue ramdisk when a node's driver_info names none (as Ironic: the deploy ramdisk
    /// is not used in its place); the built-in agent by default, which can rescue.
    pub rescue_kernel: String,
    pub rescue_ramdisk: String,
    /// How the rescue password is hashed for the agent: `sha256` or `sha512` (crypt).
    pub rescue_password_hash_algorithm: String,
}

impl Default for ConductorSection {
    fn default() -> Self {
        Self {
            heartbeat_interval: 10,
            heartbeat_timeout: 60,
            conductor_group: String::new(),
            allow_deleting_available_nodes: true,
            node_history_max_entries: 300,
            node_history: true,
            workers_pool_size: 100,
            node_locked_retry_attempts: 3,
            node_locked_retry_interval_ms: 1000,
            automated_clean: true,
            allow_provisioning_in_maintenance: true,
            sync_power_state_interval: 120,
            sync_power_state_workers: 8,
            power_state_sync_max_retries: 3,
            force_power_state_during_sync: true,
            power_failure_recovery_interval: 300,
            power_state_change_timeout: 60,
            soft_power_off_timeout: 600,
            deploy_callback_timeout: 1800,
            clean_callback_timeout: 1800,
            inspect_wait_timeout: 1800,
            rescue_callback_timeout: 1800,
            service_callback_timeout: 1800,
            check_provision_state_interval: 60,
            deploy_kernel: "ironbox-agent.kernel".into(),
            deploy_ramdisk: "ironbox-agent.initramfs".into(),
            rescue_kernel: "ironbox-agent.kernel".into(),
            rescue_ramdisk: "ironbox-agent.initramfs".into(),
            rescue_password_hash_algorithm: "sha256".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSection {
    /// `sqlite:///ABSOLUTE/PATH` or `sqlite://RELATIVE/PATH`; empty = `<state_path>/ironbox.sqlite`;
    /// or `postgresql://USER:PASS@HOST:PORT/DB` (also `postgresql+psycopg2://`, Ironic's form).
    pub connection: String,
    /// Milliseconds a writer waits for the database lock before failing.
    pub busy_timeout_ms: i64,
    /// Connections kept open for readers.
    pub max_pool_size: u32,
}

impl Default for DatabaseSection {
    fn default() -> Self {
        Self {
            connection: String::new(),
            busy_timeout_ms: 5000,
            max_pool_size: 8,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SslSection {
    /// PEM certificate chain for the API when `[api] enable_ssl_api = true`.
    pub cert_file: String,
    /// PEM private key for the API.
    pub key_file: String,
}

/// A fake-driver delay: seconds, or "min,max" for a random delay in that range (as Ironic's
/// `[fake]` options).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum Delay {
    Seconds(f64),
    Text(String),
}

impl Default for Delay {
    fn default() -> Self {
        Delay::Seconds(0.0)
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct FakeSection {
    /// Delays of the fake-hardware interfaces, to make a fake node behave like a slow one.
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

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DhcpSection {
    /// The provisioning network interface. Empty = no boot servers (DHCP, TFTP, HTTP boot).
    /// When set, TFTP and HTTP boot serve on its IPv4 address, DHCP as `mode` says.
    pub interface: String,
    /// `off` (another DHCP server points machines at us), `proxy` (proxyDHCP next to the
    /// site's DHCP server: boot information only, never addresses), or `full`.
    pub mode: String,
    /// `full` mode: first and last address handed out (on the interface's subnet).
    pub range_start: String,
    pub range_end: String,
    /// `full` mode: lease length in seconds.
    pub lease_time: i64,
    /// `full` mode: router (option 3) and DNS servers (option 6) to announce; empty = none.
    pub router: String,
    pub dns_servers: Vec<String>,
    /// Deprecated: use `[auto_discovery] enabled`. Answers unknown MACs on every
    /// provisioning interface, as before (a warning is logged at start).
    pub allow_unknown_clients: bool,
    /// Send IPv6 router advertisements on the interface (iPXE builds with IPv6 wait ~13 s
    /// for one before they use DHCPv4 results). Needs an IPv6 address on the interface.
    pub ipv6_ra: bool,
}

impl Default for DhcpSection {
    fn default() -> Self {
        Self {
            interface: String::new(),
            mode: "off".into(),
            range_start: String::new(),
            range_end: String::new(),
            lease_time: 3600,
            router: String::new(),
            dns_servers: vec![],
            allow_unknown_clients: false,
            ipv6_ra: false,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PxeSection {
    /// Directory with the iPXE boot programs (undionly.kpxe, ipxe.efi, snponly.efi...);
    /// Debian's `ipxe` package installs them in /usr/lib/ipxe.
    pub ipxe_dir: String,
    /// UDP port of the TFTP server.
    pub tftp_port: u16,
    /// TFTP downloads served at once (each holds a thread); a request over the limit gets
    /// a TFTP ERROR "server busy" and the client retries (dnsmasq's tftp-max is 50).
    pub tftp_max_transfers: u32,
    /// TCP port of the HTTP boot server (scripts, kernels, ramdisks, images).
    pub http_port: u16,
    /// Directory served under /files/ by the HTTP boot server (kernels, ramdisks, images).
    /// Empty = `<state_path>/httpboot`.
    pub http_root: String,
    /// Kernel command line added for the deploy ramdisk (Ironic's `kernel_append_params`).
    pub kernel_append_params: String,
    /// Seconds iPXE waits per file download (0 = no limit).
    pub ipxe_timeout: i64,
    /// The image cache (`<state_path>/images`, served at /images/): size in MiB, and
    /// minutes an unused image is kept.
    pub image_cache_size: u64,
    pub image_cache_ttl: i64,
}

impl Default for PxeSection {
    fn default() -> Self {
        Self {
            ipxe_dir: "/usr/lib/ipxe".into(),
            tftp_port: 69,
            tftp_max_transfers: 64,
            http_port: 8080,
            http_root: String::new(),
            kernel_append_params: "nofb nomodeset vga=normal".into(),
            ipxe_timeout: 0,
            image_cache_size: 20480,
            image_cache_ttl: 10080,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct IpmiSection {
    /// Seconds one IPMI operation may take in all, retries included (Ironic's name).
    pub command_retry_timeout: i64,
    /// Milliseconds to wait for one answer from the BMC before retrying.
    pub command_timeout_ms: i64,
}

impl Default for IpmiSection {
    fn default() -> Self {
        Self {
            command_retry_timeout: 60,
            command_timeout_ms: 2000,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedfishSection {
    /// Attempts per Redfish request while the BMC cannot be reached (Ironic's name).
    pub connection_attempts: u32,
    /// Seconds between those attempts (Ironic's name).
    pub connection_retry_interval: i64,
    /// Seconds one Redfish request (connection included) may take.
    pub request_timeout: i64,
    /// `redfish_auth_type` for nodes that set none: basic, session or auto (Ironic's name).
    pub auth_type: String,
    /// Seconds between looks at a running firmware update task or a pending BIOS change
    /// (Ironic's name).
    pub firmware_update_status_interval: i64,
    /// Seconds a `firmware.update` step (or a BIOS change) may take in all (Ironic's name).
    pub firmware_update_overall_timeout: i64,
}

impl Default for RedfishSection {
    fn default() -> Self {
        Self {
            connection_attempts: 5,
            connection_retry_interval: 4,
            request_timeout: 30,
            auth_type: "auto".into(),
            firmware_update_status_interval: 60,
            firmware_update_overall_timeout: 7200,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AgentSection {
    /// Seconds one call to an agent's API may take.
    pub command_timeout: i64,
    /// Refuse heartbeats whose callback URL is plain http (Ironic's default is true; the
    /// built-in agent speaks http on the provisioning network, as MAAS does).
    pub require_tls: bool,
    /// Heartbeat period the agent is told at lookup (it heartbeats at 30-60 % of it).
    pub heartbeat_timeout: i64,
    /// `http`: the agent downloads http(s) images itself; `local`: ironbox downloads them
    /// into its cache and serves them (always the case for file:// images).
    pub image_download_source: String,
    /// Accept md5 image checksums.
    pub allow_md5_checksum: bool,
    /// After the agent's in-band power-off: how often, and how far apart, the BMC is
    /// asked before ironbox powers the node off itself.
    pub post_deploy_get_power_state_retries: u32,
    pub post_deploy_get_power_state_retry_interval_ms: i64,
}

impl Default for AgentSection {
    fn default() -> Self {
        Self {
            command_timeout: 60,
            require_tls: false,
            heartbeat_timeout: 300,
            image_download_source: "http".into(),
            allow_md5_checksum: false,
            post_deploy_get_power_state_retries: 120,
            post_deploy_get_power_state_retry_interval_ms: 250,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeploySection {
    /// Priority of the agent's clean steps in automated cleaning (0 = only on request).
    pub erase_devices_priority: i64,
    pub erase_devices_metadata_priority: i64,
    /// Boot mode of a deploy that neither the node nor its instance asks for (Ironic: uefi).
    pub default_boot_mode: String,
}

impl Default for DeploySection {
    fn default() -> Self {
        Self {
            erase_devices_priority: 0,
            erase_devices_metadata_priority: 99,
            default_boot_mode: "uefi".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsSection {
    /// Serve `/metrics` on the API listener.
    pub enabled: bool,
    /// `api`: the API's own auth_strategy guards it; `none`: open to anyone who reaches
    /// the listener (for a scraper without credentials).
    pub auth: String,
}

impl Default for MetricsSection {
    fn default() -> Self {
        Self {
            enabled: true,
            auth: "api".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsoleSection {
    /// "low:high": the TCP ports enabled consoles are served on; empty = any free port.
    pub port_range: String,
    /// Address the consoles' raw TCP ports bind to. They have no authentication.
    pub socat_address: String,
    /// Allow a non-loopback `socat_address` (anyone who reaches it can type into consoles).
    pub allow_public_tcp: bool,
}

impl Default for ConsoleSection {
    fn default() -> Self {
        Self {
            port_range: String::new(),
            socat_address: "127.0.0.1".into(),
            allow_public_tcp: false,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AutoDiscoverySection {
    /// Enroll machines that are unknown to every lookup when their inspection data
    /// arrives; DHCP answers unknown MACs on the discovery networks.
    pub enabled: bool,
    /// Hardware type of discovered nodes; required when `enabled`.
    pub driver: String,
    /// Provisioning interfaces on which unknown MACs are answered; empty = every one.
    pub networks: Vec<String>,
    /// Discovery enrollments allowed per minute (0 = no limit); more are refused with 503.
    pub max_enrollments_per_minute: u32,
    /// DHCP answers to unknown MACs per minute (0 = no limit); more are dropped.
    pub max_boots_per_minute: u32,
}

impl Default for AutoDiscoverySection {
    fn default() -> Self {
        Self {
            enabled: false,
            driver: String::new(),
            networks: vec![],
            max_enrollments_per_minute: 60,
            max_boots_per_minute: 120,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct InspectorSection {
    /// Which inventory MACs become ports: `all`, `active` (with an IP), `pxe` (the one
    /// it booted from) or `disabled`.
    pub add_ports: String,
    /// Which existing ports survive: `all`, `present` (in the inventory) or `added`
    /// (among the MACs `add_ports` selects).
    pub keep_ports: String,
    /// Set each port's `pxe_enabled` from the inventory's boot interface.
    pub update_pxe_enabled: bool,
    /// Power the machine off after inspection (through its agent when discovered).
    pub power_off: bool,
    /// Leave 1 GiB of the root disk out of `local_gb`.
    pub disk_partitioning_spacing: bool,
    /// Kernel parameters added to the inspection ramdisk's command line.
    pub extra_kernel_params: String,
    /// Inspection kernel and ramdisk for unknown machines; empty = `[conductor]
    /// deploy_kernel` / `deploy_ramdisk` (the built-in agent by default, or a stock IPA).
    pub kernel: String,
    pub ramdisk: String,
}

impl Default for InspectorSection {
    fn default() -> Self {
        Self {
            add_ports: "pxe".into(),
            keep_ports: "all".into(),
            update_pxe_enabled: true,
            power_off: true,
            disk_partitioning_spacing: true,
            extra_kernel_params: String::new(),
            kernel: String::new(),
            ramdisk: String::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct InspectionRulesSection {
    /// YAML (or JSON) file of rules that apply besides the API's; empty = none.
    pub built_in_rules: String,
    /// Mask `password`, `auth_token`, `bmc_password` in the data rules see:
    /// `always`, `never`, or `sensitive` (unmasked for sensitive rules only).
    pub mask_secrets: String,
    /// Hosts the `api-call` action may reach; empty = the action always fails.
    pub api_call_allowed_hosts: Vec<String>,
}

impl Default for InspectionRulesSection {
    fn default() -> Self {
        Self {
            built_in_rules: String::new(),
            mask_secrets: "always".into(),
            api_call_allowed_hosts: vec![],
        }
    }
}
