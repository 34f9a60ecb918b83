//! From the file's raw values to typed sections: every check that needs no live network, so
//! `ironbox config check` and `serve` reject the same files. Each error names `[section] key`.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

use super::file;
use super::sections::*;
use super::ConfigError;

/// Builds the errors of one file.
pub(super) struct Checker<'a> {
    pub path: &'a str,
}

type R<T> = Result<T, ConfigError>;

impl Checker<'_> {
    pub fn bad(
        &self,
        section: &'static str,
        key: &'static str,
        reason: impl Into<String>,
    ) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.to_string(),
            section,
            key,
            reason: reason.into(),
        }
    }

    fn named<T>(
        &self,
        section: &'static str,
        key: &'static str,
        value: &str,
        parse: fn(&str) -> Option<T>,
        names: &[&str],
    ) -> R<T> {
        parse(value).ok_or_else(|| {
            self.bad(
                section,
                key,
                format!("{value:?} is not one of {}", names.join(", ")),
            )
        })
    }

    /// A time of at least `min` units; `unit` turns the file's number into a Duration.
    fn time(
        &self,
        section: &'static str,
        key: &'static str,
        v: i64,
        min: i64,
        unit: fn(u64) -> Duration,
    ) -> R<Duration> {
        match u64::try_from(v) {
            Ok(n) if v >= min => Ok(unit(n)),
            _ if min > 0 => Err(self.bad(section, key, format!("must be at least {min}"))),
            _ => Err(self.bad(section, key, "must not be negative")),
        }
    }

    fn secs(&self, section: &'static str, key: &'static str, v: i64, min: i64) -> R<Duration> {
        self.time(section, key, v, min, Duration::from_secs)
    }

    fn millis(&self, section: &'static str, key: &'static str, v: i64, min: i64) -> R<Duration> {
        self.time(section, key, v, min, Duration::from_millis)
    }

    /// Seconds where 0 means off.
    fn secs_or_off(&self, section: &'static str, key: &'static str, v: i64) -> R<Option<Duration>> {
        Ok(Some(self.secs(section, key, v, 0)?).filter(|d| !d.is_zero()))
    }

    fn at_least_1(&self, section: &'static str, key: &'static str, v: u32) -> R<u32> {
        if v == 0 {
            return Err(self.bad(section, key, "must be at least 1"));
        }
        Ok(v)
    }

    fn ipv4(&self, section: &'static str, key: &'static str, s: &str) -> R<Ipv4Addr> {
        s.parse()
            .map_err(|_| self.bad(section, key, format!("{s:?} is not an IPv4 address")))
    }

    /// An optional IPv4 address: empty = unset.
    fn ipv4_opt(&self, section: &'static str, key: &'static str, s: &str) -> R<Option<Ipv4Addr>> {
        if s.is_empty() {
            return Ok(None);
        }
        self.ipv4(section, key, s).map(Some)
    }

    pub fn default(&self, d: file::DefaultSection) -> R<DefaultSection> {
        let host = if d.host.is_empty() {
            hostname::get()
                .ok()
                .and_then(|h| h.into_string().ok())
                .unwrap_or_else(|| "localhost".into())
        } else {
            d.host
        };
        if host.len() > 255 || host.contains(char::is_whitespace) {
            return Err(self.bad("DEFAULT", "host", "must be a host name without spaces"));
        }
        if d.state_path.is_empty() {
            return Err(self.bad("DEFAULT", "state_path", "must not be empty"));
        }
        let auth_strategy = match d.auth_strategy.as_str() {
            "keystone" => {
                return Err(self.bad(
                    "DEFAULT",
                    "auth_strategy",
                    "keystone is not supported by ironbox; use noauth or http_basic",
                ))
            }
            s => AuthStrategy::parse(s).ok_or_else(|| {
                self.bad(
                    "DEFAULT",
                    "auth_strategy",
                    format!("unknown strategy {s:?}; expected noauth or http_basic"),
                )
            })?,
        };
        if auth_strategy == AuthStrategy::HttpBasic && d.http_basic_auth_user_file.is_empty() {
            return Err(self.bad(
                "DEFAULT",
                "http_basic_auth_user_file",
                "required with auth_strategy = http_basic",
            ));
        }
        if d.enabled_hardware_types.is_empty() {
            return Err(self.bad(
                "DEFAULT",
                "enabled_hardware_types",
                "at least one hardware type must be enabled",
            ));
        }
        if d.default_portgroup_mode.is_empty() {
            return Err(self.bad("DEFAULT", "default_portgroup_mode", "must not be empty"));
        }
        Ok(DefaultSection {
            host,
            state_path: PathBuf::from(d.state_path),
            auth_strategy,
            http_basic_auth_user_file: PathBuf::from(d.http_basic_auth_user_file),
            debug: d.debug,
            force_raw_images: d.force_raw_images,
            enabled_hardware_types: d.enabled_hardware_types,
            enabled_bios_interfaces: d.enabled_bios_interfaces,
            enabled_boot_interfaces: d.enabled_boot_interfaces,
            enabled_console_interfaces: d.enabled_console_interfaces,
            enabled_deploy_interfaces: d.enabled_deploy_interfaces,
            enabled_firmware_interfaces: d.enabled_firmware_interfaces,
            enabled_inspect_interfaces: d.enabled_inspect_interfaces,
            enabled_management_interfaces: d.enabled_management_interfaces,
            enabled_network_interfaces: d.enabled_network_interfaces,
            enabled_power_interfaces: d.enabled_power_interfaces,
            enabled_raid_interfaces: d.enabled_raid_interfaces,
            enabled_rescue_interfaces: d.enabled_rescue_interfaces,
            enabled_storage_interfaces: d.enabled_storage_interfaces,
            enabled_vendor_interfaces: d.enabled_vendor_interfaces,
            default_bios_interface: d.default_bios_interface,
            default_boot_interface: d.default_boot_interface,
            default_console_interface: d.default_console_interface,
            default_deploy_interface: d.default_deploy_interface,
            default_firmware_interface: d.default_firmware_interface,
            default_inspect_interface: d.default_inspect_interface,
            default_management_interface: d.default_management_interface,
            default_network_interface: d.default_network_interface,
            default_power_interface: d.default_power_interface,
            default_raid_interface: d.default_raid_interface,
            default_rescue_interface: d.default_rescue_interface,
            default_storage_interface: d.default_storage_interface,
            default_vendor_interface: d.default_vendor_interface,
            default_resource_class: d.default_resource_class,
            default_portgroup_mode: d.default_portgroup_mode,
        })
    }

    pub fn api(&self, a: file::ApiSection, auth: AuthStrategy) -> R<ApiSection> {
        let host_ip: IpAddr = a.host_ip.parse().map_err(|_| {
            self.bad(
                "api",
                "host_ip",
                format!("{:?} is not an IP address", a.host_ip),
            )
        })?;
        if auth == AuthStrategy::Noauth && !host_ip.is_loopback() && !a.allow_noauth_on_public {
            return Err(self.bad("api", "host_ip", format!(
                "refusing to serve the API without authentication on non-loopback address {host_ip}; \
                 set [DEFAULT] auth_strategy = \"http_basic\", or [api] allow_noauth_on_public = true"
            )));
        }
        if let Some(ep) = &a.public_endpoint {
            if !(ep.starts_with("http://") || ep.starts_with("https://")) {
                return Err(self.bad(
                    "api",
                    "public_endpoint",
                    format!("{ep:?} must be an http:// or https:// URL"),
                ));
            }
        }
        let kib = "body size limits must be at least 1 KiB";
        for (key, v) in [
            ("max_json_body_size", a.max_json_body_size),
            (
                "max_json_body_size_provision",
                a.max_json_body_size_provision,
            ),
            (
                "max_json_body_size_inspection",
                a.max_json_body_size_inspection,
            ),
        ] {
            if v == 0 {
                return Err(self.bad("api", key, kib));
            }
        }
        Ok(ApiSection {
            host_ip,
            port: a.port,
            public_endpoint: a.public_endpoint,
            max_limit: self.at_least_1("api", "max_limit", a.max_limit)?,
            max_json_body_size: a.max_json_body_size,
            max_json_body_size_provision: a.max_json_body_size_provision,
            max_json_body_size_inspection: a.max_json_body_size_inspection,
            max_json_body_depth: self.at_least_1(
                "api",
                "max_json_body_depth",
                a.max_json_body_depth,
            )?,
            enable_ssl_api: a.enable_ssl_api,
            allow_noauth_on_public: a.allow_noauth_on_public,
            api_workers: a.api_workers,
        })
    }

    pub fn conductor(&self, c: file::ConductorSection) -> R<ConductorSection> {
        const S: &str = "conductor";
        let heartbeat_interval = self.secs(S, "heartbeat_interval", c.heartbeat_interval, 1)?;
        let heartbeat_timeout = self.secs(S, "heartbeat_timeout", c.heartbeat_timeout, 0)?;
        if heartbeat_timeout <= heartbeat_interval {
            return Err(self.bad(
                S,
                "heartbeat_timeout",
                "must be longer than heartbeat_interval",
            ));
        }
        if !crate::model::validate::is_valid_conductor_group(&c.conductor_group) {
            return Err(self.bad(
                S,
                "conductor_group",
                "only letters, digits, '_', '.' and '-' are allowed",
            ));
        }
        Ok(ConductorSection {
            heartbeat_interval,
            heartbeat_timeout,
            conductor_group: c.conductor_group,
            allow_deleting_available_nodes: c.allow_deleting_available_nodes,
            node_history_max_entries: c.node_history_max_entries,
            node_history: c.node_history,
            workers_pool_size: self.at_least_1(S, "workers_pool_size", c.workers_pool_size)?,
            node_locked_retry_attempts: c.node_locked_retry_attempts,
            node_locked_retry_interval_ms: self.millis(
                S,
                "node_locked_retry_interval_ms",
                c.node_locked_retry_interval_ms,
                0,
            )?,
            automated_clean: c.automated_clean,
            allow_provisioning_in_maintenance: c.allow_provisioning_in_maintenance,
            sync_power_state_interval: self.secs_or_off(
                S,
                "sync_power_state_interval",
                c.sync_power_state_interval,
            )?,
            sync_power_state_workers: self.at_least_1(
                S,
                "sync_power_state_workers",
                c.sync_power_state_workers,
            )?,
            power_state_sync_max_retries: c.power_state_sync_max_retries,
            force_power_state_during_sync: c.force_power_state_during_sync,
            power_failure_recovery_interval: self.secs_or_off(
                S,
                "power_failure_recovery_interval",
                c.power_failure_recovery_interval,
            )?,
            power_state_change_timeout: self.secs(
                S,
                "power_state_change_timeout",
                c.power_state_change_timeout,
                1,
            )?,
            soft_power_off_timeout: self.secs(
                S,
                "soft_power_off_timeout",
                c.soft_power_off_timeout,
                1,
            )?,
            deploy_callback_timeout: self.secs_or_off(
                S,
                "deploy_callback_timeout",
                c.deploy_callback_timeout,
            )?,
            clean_callback_timeout: self.secs_or_off(
                S,
                "clean_callback_timeout",
                c.clean_callback_timeout,
            )?,
            inspect_wait_timeout: self.secs_or_off(
                S,
                "inspect_wait_timeout",
                c.inspect_wait_timeout,
            )?,
            rescue_callback_timeout: self.secs_or_off(
                S,
                "rescue_callback_timeout",
                c.rescue_callback_timeout,
            )?,
            service_callback_timeout: self.secs_or_off(
                S,
                "service_callback_timeout",
                c.service_callback_timeout,
            )?,
            check_provision_state_interval: self.secs(
                S,
                "check_provision_state_interval",
                c.check_provision_state_interval,
                1,
            )?,
            deploy_kernel: c.deploy_kernel,
            deploy_ramdisk: c.deploy_ramdisk,
            rescue_kernel: c.rescue_kernel,
            rescue_ramdisk: c.rescue_ramdisk,
            rescue_password_hash_algorithm: self.named(
                S,
                "rescue_password_hash_algorithm",
                &c.rescue_password_hash_algorithm,
                RescueHash::parse,
                RescueHash::NAMES,
            )?,
        })
    }

    pub fn database(
        &self,
        db: file::DatabaseSection,
        state_path: &std::path::Path,
    ) -> R<DatabaseSection> {
        let postgres = ["postgresql://", "postgres://", "postgresql+psycopg2://"]
            .iter()
            .any(|s| db.connection.starts_with(s));
        let connection = if postgres {
            let url = db
                .connection
                .replacen("postgresql+psycopg2://", "postgresql://", 1);
            let parsed = url.parse::<postgres::Config>().map_err(|e| {
                self.bad("database", "connection", format!("bad PostgreSQL URL: {e}"))
            })?;
            if parsed.get_dbname().is_none() || parsed.get_hosts().is_empty() {
                return Err(self.bad(
                    "database",
                    "connection",
                    "PostgreSQL URL must name a host and a database: postgresql://USER:PASS@HOST:PORT/DB",
                ));
            }
            state_path.join("ironbox.sqlite")
        } else if db.connection.is_empty() {
            state_path.join("ironbox.sqlite")
        } else if let Some(rest) = db.connection.strip_prefix("sqlite://") {
            // SQLAlchemy's form: sqlite:///abs/path (three slashes) or sqlite://rel/path.
            if rest.is_empty() || rest == "/" {
                return Err(self.bad("database", "connection", "sqlite URL names no file"));
            }
            PathBuf::from(rest)
        } else {
            return Err(self.bad(
                "database",
                "connection",
                // Only the scheme: the rest may hold a password.
                format!(
                    "{:?}: only sqlite:// and postgresql:// URLs are supported",
                    db.connection.split("://").next().unwrap_or_default()
                ),
            ));
        };
        let busy_timeout_ms = self.millis("database", "busy_timeout_ms", db.busy_timeout_ms, 0)?;
        if u32::try_from(db.busy_timeout_ms).is_err() {
            return Err(self.bad("database", "busy_timeout_ms", "must be below 2^32"));
        }
        Ok(DatabaseSection {
            connection,
            postgres: postgres.then(|| db.connection.clone()),
            busy_timeout_ms,
            max_pool_size: self.at_least_1("database", "max_pool_size", db.max_pool_size)?,
        })
    }

    pub fn ssl(&self, s: file::SslSection, enabled: bool) -> R<SslSection> {
        for (key, v) in [("cert_file", &s.cert_file), ("key_file", &s.key_file)] {
            if enabled && v.is_empty() {
                return Err(self.bad("ssl", key, "required with [api] enable_ssl_api = true"));
            }
        }
        Ok(SslSection {
            cert_file: PathBuf::from(s.cert_file),
            key_file: PathBuf::from(s.key_file),
        })
    }

    pub fn fake(&self, f: file::FakeSection) -> R<FakeSection> {
        let d = |key: &'static str, v: &file::Delay| {
            delay(v).map_err(|reason| self.bad("fake", key, reason))
        };
        Ok(FakeSection {
            power_delay: d("power_delay", &f.power_delay)?,
            boot_delay: d("boot_delay", &f.boot_delay)?,
            deploy_delay: d("deploy_delay", &f.deploy_delay)?,
            vendor_delay: d("vendor_delay", &f.vendor_delay)?,
            management_delay: d("management_delay", &f.management_delay)?,
            inspect_delay: d("inspect_delay", &f.inspect_delay)?,
            raid_delay: d("raid_delay", &f.raid_delay)?,
            bios_delay: d("bios_delay", &f.bios_delay)?,
            storage_delay: d("storage_delay", &f.storage_delay)?,
            rescue_delay: d("rescue_delay", &f.rescue_delay)?,
        })
    }

    pub fn ipmi(&self, i: file::IpmiSection) -> R<IpmiSection> {
        Ok(IpmiSection {
            command_retry_timeout: self.secs(
                "ipmi",
                "command_retry_timeout",
                i.command_retry_timeout,
                1,
            )?,
            command_timeout_ms: self.millis(
                "ipmi",
                "command_timeout_ms",
                i.command_timeout_ms,
                1,
            )?,
        })
    }

    pub fn redfish(&self, r: file::RedfishSection) -> R<RedfishSection> {
        const S: &str = "redfish";
        Ok(RedfishSection {
            connection_attempts: self.at_least_1(
                S,
                "connection_attempts",
                r.connection_attempts,
            )?,
            connection_retry_interval: self.secs(
                S,
                "connection_retry_interval",
                r.connection_retry_interval,
                0,
            )?,
            request_timeout: self.secs(S, "request_timeout", r.request_timeout, 1)?,
            auth_type: self.named(
                S,
                "auth_type",
                &r.auth_type,
                RedfishAuthType::parse,
                RedfishAuthType::NAMES,
            )?,
            firmware_update_status_interval: self.secs(
                S,
                "firmware_update_status_interval",
                r.firmware_update_status_interval,
                1,
            )?,
            firmware_update_overall_timeout: self.secs(
                S,
                "firmware_update_overall_timeout",
                r.firmware_update_overall_timeout,
                1,
            )?,
        })
    }

    pub fn dhcp(&self, d: file::DhcpSection) -> R<DhcpSection> {
        const S: &str = "dhcp";
        let mode = self.named(S, "mode", &d.mode, DhcpMode::parse, DhcpMode::NAMES)?;
        let range_start = self.ipv4_opt(S, "range_start", &d.range_start)?;
        let range_end = self.ipv4_opt(S, "range_end", &d.range_end)?;
        if mode == DhcpMode::Full {
            if range_start.is_none() {
                return Err(self.bad(S, "range_start", "required with mode = \"full\""));
            }
            if range_end.is_none() {
                return Err(self.bad(S, "range_end", "required with mode = \"full\""));
            }
        }
        if let (Some(a), Some(b)) = (range_start, range_end) {
            if a > b {
                return Err(self.bad(S, "range_start", format!("{a} is after range_end {b}")));
            }
        }
        let lease_time = self.secs(S, "lease_time", d.lease_time, 1)?;
        if u32::try_from(d.lease_time).is_err() {
            return Err(self.bad(S, "lease_time", "must be below 2^32 seconds"));
        }
        Ok(DhcpSection {
            interface: Some(d.interface).filter(|i| !i.is_empty()),
            mode,
            range_start,
            range_end,
            lease_time,
            router: self.ipv4_opt(S, "router", &d.router)?,
            dns_servers: d
                .dns_servers
                .iter()
                .map(|s| self.ipv4(S, "dns_servers", s))
                .collect::<R<_>>()?,
            allow_unknown_clients: d.allow_unknown_clients,
            ipv6_ra: d.ipv6_ra,
        })
    }

    pub fn pxe(&self, p: file::PxeSection, state_path: &std::path::Path) -> R<PxeSection> {
        const S: &str = "pxe";
        let ipxe_timeout = self.secs_or_off(S, "ipxe_timeout", p.ipxe_timeout)?;
        if u32::try_from(p.ipxe_timeout).is_err() {
            return Err(self.bad(S, "ipxe_timeout", "must be below 2^32 seconds"));
        }
        let ttl = self.time(S, "image_cache_ttl", p.image_cache_ttl, 0, |m| {
            Duration::from_secs(m.saturating_mul(60))
        })?;
        Ok(PxeSection {
            ipxe_dir: PathBuf::from(p.ipxe_dir),
            tftp_port: p.tftp_port,
            tftp_max_transfers: self.at_least_1(S, "tftp_max_transfers", p.tftp_max_transfers)?,
            http_port: p.http_port,
            http_root: if p.http_root.is_empty() {
                state_path.join("httpboot")
            } else {
                PathBuf::from(p.http_root)
            },
            kernel_append_params: p.kernel_append_params,
            ipxe_timeout,
            image_cache_size: p.image_cache_size,
            image_cache_ttl: ttl,
        })
    }

    pub fn agent(&self, a: file::AgentSection) -> R<AgentSection> {
        const S: &str = "agent";
        Ok(AgentSection {
            command_timeout: self.secs(S, "command_timeout", a.command_timeout, 1)?,
            require_tls: a.require_tls,
            heartbeat_timeout: self.secs(S, "heartbeat_timeout", a.heartbeat_timeout, 1)?,
            image_download_source: self.named(
                S,
                "image_download_source",
                &a.image_download_source,
                ImageDownloadSource::parse,
                ImageDownloadSource::NAMES,
            )?,
            allow_md5_checksum: a.allow_md5_checksum,
            post_deploy_get_power_state_retries: a.post_deploy_get_power_state_retries,
            post_deploy_get_power_state_retry_interval_ms: self.millis(
                S,
                "post_deploy_get_power_state_retry_interval_ms",
                a.post_deploy_get_power_state_retry_interval_ms,
                0,
            )?,
        })
    }

    pub fn deploy(&self, d: file::DeploySection) -> R<DeploySection> {
        Ok(DeploySection {
            erase_devices_priority: d.erase_devices_priority,
            erase_devices_metadata_priority: d.erase_devices_metadata_priority,
            default_boot_mode: self.named(
                "deploy",
                "default_boot_mode",
                &d.default_boot_mode,
                BootMode::parse,
                BootMode::NAMES,
            )?,
        })
    }

    pub fn metrics(&self, m: file::MetricsSection) -> R<MetricsSection> {
        Ok(MetricsSection {
            enabled: m.enabled,
            auth: self.named(
                "metrics",
                "auth",
                &m.auth,
                MetricsAuth::parse,
                MetricsAuth::NAMES,
            )?,
        })
    }

    pub fn auto_discovery(
        &self,
        a: file::AutoDiscoverySection,
        default: &DefaultSection,
    ) -> R<AutoDiscoverySection> {
        const S: &str = "auto_discovery";
        if a.enabled && a.driver.is_empty() {
            return Err(self.bad(S, "driver", "required when enabled = true"));
        }
        if !a.driver.is_empty() && !default.enabled_hardware_types.contains(&a.driver) {
            return Err(self.bad(
                S,
                "driver",
                format!(
                    "{:?} is not in [DEFAULT] enabled_hardware_types ({})",
                    a.driver,
                    default.enabled_hardware_types.join(", ")
                ),
            ));
        }
        if let Some(n) = a
            .networks
            .iter()
            .find(|n| n.trim().is_empty() || n.len() > 15)
        {
            return Err(self.bad(S, "networks", format!("{n:?} is not an interface name")));
        }
        Ok(AutoDiscoverySection {
            enabled: a.enabled,
            driver: a.driver,
            networks: a.networks,
            max_enrollments_per_minute: Some(a.max_enrollments_per_minute).filter(|n| *n > 0),
            max_boots_per_minute: Some(a.max_boots_per_minute).filter(|n| *n > 0),
        })
    }

    pub fn inspector(&self, i: file::InspectorSection) -> R<InspectorSection> {
        const S: &str = "inspector";
        Ok(InspectorSection {
            add_ports: self.named(
                S,
                "add_ports",
                &i.add_ports,
                AddPorts::parse,
                AddPorts::NAMES,
            )?,
            keep_ports: self.named(
                S,
                "keep_ports",
                &i.keep_ports,
                KeepPorts::parse,
                KeepPorts::NAMES,
            )?,
            update_pxe_enabled: i.update_pxe_enabled,
            power_off: i.power_off,
            disk_partitioning_spacing: i.disk_partitioning_spacing,
            extra_kernel_params: i.extra_kernel_params,
            kernel: i.kernel,
            ramdisk: i.ramdisk,
        })
    }

    pub fn console(&self, c: file::ConsoleSection) -> R<ConsoleSection> {
        const S: &str = "console";
        let socat_address: IpAddr = c.socat_address.parse().map_err(|_| {
            self.bad(
                S,
                "socat_address",
                format!("{:?} is not an IP address", c.socat_address),
            )
        })?;
        // The console ports carry no authentication: keep them off the network unless asked.
        if !socat_address.is_loopback() && !c.allow_public_tcp {
            return Err(self.bad(
                S,
                "socat_address",
                format!(
                    "refusing to serve consoles' raw TCP ports, which have no authentication, on \
                 non-loopback address {socat_address}; set [console] allow_public_tcp = true"
                ),
            ));
        }
        let range = c.port_range.trim();
        let port_range = if range.is_empty() {
            None
        } else {
            let bad = || {
                self.bad(
                    S,
                    "port_range",
                    format!("{range:?} is not \"low:high\" with 1 <= low <= high <= 65535"),
                )
            };
            let (lo, hi) = range.split_once(':').ok_or_else(bad)?;
            let lo: u16 = lo.trim().parse().map_err(|_| bad())?;
            let hi: u16 = hi.trim().parse().map_err(|_| bad())?;
            if lo == 0 || lo > hi {
                return Err(bad());
            }
            Some((lo, hi))
        };
        Ok(ConsoleSection {
            port_range,
            socat_address,
        })
    }
}

impl Checker<'_> {
    pub fn inspection_rules(&self, c: file::InspectionRulesSection) -> R<InspectionRulesSection> {
        const S: &str = "inspection_rules";
        let mask_secrets = self.named(
            S,
            "mask_secrets",
            &c.mask_secrets,
            MaskSecrets::parse,
            MaskSecrets::NAMES,
        )?;
        let mut hosts = vec![];
        for h in c.api_call_allowed_hosts {
            let h = h.trim().trim_start_matches('[').trim_end_matches(']');
            let name_like = !h.is_empty()
                && h.chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '.');
            if !name_like && h.parse::<IpAddr>().is_err() {
                return Err(self.bad(
                    S,
                    "api_call_allowed_hosts",
                    format!("{h:?} is not a host name or IP address"),
                ));
            }
            hosts.push(h.to_ascii_lowercase());
        }
        let built_in_rules = match c.built_in_rules.trim() {
            "" => vec![],
            path => super::rules_file::load(std::path::Path::new(path))
                .map_err(|reason| self.bad(S, "built_in_rules", format!("{path}: {reason}")))?,
        };
        Ok(InspectionRulesSection {
            built_in_rules,
            mask_secrets,
            api_call_allowed_hosts: hosts,
        })
    }
}

/// A `[fake]` delay: seconds, or "min,max" for a random delay in that range.
fn delay(d: &file::Delay) -> Result<Delay, String> {
    let ok = |x: f64| x.is_finite() && (0.0..=3600.0).contains(&x);
    let (lo, hi) = match d {
        file::Delay::Seconds(s) => (*s, *s),
        file::Delay::Text(t) => {
            let parts: Vec<&str> = t.split(',').map(str::trim).collect();
            let num = |s: &str| {
                s.parse::<f64>()
                    .map_err(|_| format!("{t:?} is not seconds or \"min,max\""))
            };
            match parts.as_slice() {
                [a] => (num(a)?, num(a)?),
                [a, b] => (num(a)?, num(b)?),
                _ => return Err(format!("{t:?} is not seconds or \"min,max\"")),
            }
        }
    };
    if !ok(lo) || !ok(hi) || lo > hi {
        return Err("delays must be between 0 and 3600 seconds, min <= max".into());
    }
    Ok(Delay {
        min: Duration::from_secs_f64(lo),
        max: Duration::from_secs_f64(hi),
    })
}
