//! Unit tests of loading: defaults, the example file, and one per typed error.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use super::*;

#[test]
fn defaults_are_loopback_noauth() {
    let c = Config::defaults().unwrap();
    assert_eq!(c.api.addr().to_string(), "127.0.0.1:6385");
    assert_eq!(c.default.auth_strategy, AuthStrategy::Noauth);
    assert_eq!(
        c.database.connection,
        PathBuf::from("./ironbox-data/ironbox.sqlite")
    );
}

#[test]
fn example_file_parses_and_documents_every_option() {
    let text = include_str!("../../ironic.toml.example");
    Config::parse(text, "ironic.toml.example").unwrap();
    // Every option the code knows must appear in the example, commented or not.
    let defaults = toml::Value::try_from(FileConfig::default()).unwrap();
    let mut missing = vec![];
    for (section, table) in defaults.as_table().unwrap() {
        assert!(
            text.contains(&format!("[{section}]")),
            "section [{section}] missing"
        );
        for key in table.as_table().unwrap().keys() {
            if !text.contains(&format!("{key} =")) {
                missing.push(format!("[{section}] {key}"));
            }
        }
    }
    // Options whose default is "unset" don't serialize; check those by name.
    for key in [
        "public_endpoint",
        "default_resource_class",
        "default_boot_interface",
    ] {
        if !text.contains(&format!("{key} =")) {
            missing.push(key.to_string());
        }
    }
    assert!(missing.is_empty(), "undocumented options: {missing:?}");
}

#[test]
fn bad_files_name_the_key() {
    let cases = [
        ("[api]\nport = \"x\"", "port"),
        ("[api]\nbogus = 1", "bogus"),
        ("[nosuchsection]\na = 1", "nosuchsection"),
        ("[api]\nhost_ip = \"0.0.0.0\"", "refusing"),
        ("[api]\nhost_ip = \"not-an-ip\"", "host_ip"),
        ("[DEFAULT]\nauth_strategy = \"keystone\"", "auth_strategy"),
        ("[database]\nconnection = \"mysql://x\"", "connection"),
        ("[conductor]\nheartbeat_timeout = 5", "heartbeat_timeout"),
        ("[api]\nenable_ssl_api = true", "cert_file"),
        ("[redfish]\nauth_type = \"digest\"", "auth_type"),
        ("[api\nport = 1", "TOML"),
    ];
    for (text, needle) in cases {
        let err = Config::parse(text, "t.toml").unwrap_err().to_string();
        assert!(err.starts_with("t.toml"), "{err}");
        assert!(
            err.to_lowercase().contains(&needle.to_lowercase()) || needle == "TOML",
            "{text}: {err}"
        );
    }
}

#[test]
fn public_noauth_needs_explicit_opt_in() {
    let c = Config::parse(
        "[api]\nhost_ip = \"0.0.0.0\"\nallow_noauth_on_public = true",
        "t",
    )
    .unwrap();
    assert_eq!(c.api.addr().port(), 6385);
    Config::parse(
        "[DEFAULT]\nauth_strategy = \"http_basic\"\n[api]\nhost_ip = \"0.0.0.0\"",
        "t",
    )
    .unwrap();
}

/// The error for one bad file, which must be `t.toml: [section] key: ...`.
fn rejected(text: &str, section_key: &str) -> String {
    let err = Config::parse(text, "t.toml")
        .err()
        .unwrap_or_else(|| panic!("accepted: {text}"))
        .to_string();
    assert!(
        err.starts_with(&format!("t.toml: {section_key}: ")),
        "{text}: {err}"
    );
    err
}

#[test]
fn unknown_enum_values_are_rejected() {
    let err = rejected("[dhcp]\nmode = \"bogus\"", "[dhcp] mode");
    assert!(err.contains("off, proxy, full"), "{err}");
    rejected(
        "[agent]\nimage_download_source = \"swift\"",
        "[agent] image_download_source",
    );
    rejected("[redfish]\nauth_type = \"digest\"", "[redfish] auth_type");
    rejected(
        "[deploy]\ndefault_boot_mode = \"legacy\"",
        "[deploy] default_boot_mode",
    );
    rejected(
        "[DEFAULT]\nauth_strategy = \"none\"",
        "[DEFAULT] auth_strategy",
    );
    let err = rejected("[metrics]\nauth = \"basic\"", "[metrics] auth");
    assert!(err.contains("api, none"), "{err}");
}

#[test]
fn bad_addresses_are_rejected() {
    rejected("[api]\nhost_ip = \"localhost\"", "[api] host_ip");
    rejected("[dhcp]\nrange_start = \"10.0.0\"", "[dhcp] range_start");
    rejected("[dhcp]\nrange_end = \"10.0.0.300\"", "[dhcp] range_end");
    rejected("[dhcp]\nrouter = \"gateway\"", "[dhcp] router");
    rejected(
        "[dhcp]\ndns_servers = [\"10.0.0.1\", \"::1\"]",
        "[dhcp] dns_servers",
    );
}

#[test]
fn full_dhcp_needs_an_ordered_range() {
    rejected("[dhcp]\nmode = \"full\"", "[dhcp] range_start");
    rejected(
        "[dhcp]\nmode = \"full\"\nrange_start = \"10.0.0.10\"",
        "[dhcp] range_end",
    );
    let err = rejected(
        "[dhcp]\nmode = \"full\"\nrange_start = \"10.0.0.20\"\nrange_end = \"10.0.0.10\"",
        "[dhcp] range_start",
    );
    assert!(err.contains("after range_end"), "{err}");
    let c = Config::parse(
        "[dhcp]\nmode = \"full\"\nrange_start = \"10.0.0.10\"\nrange_end = \"10.0.0.20\"\nrouter = \"10.0.0.1\"",
        "t",
    )
    .unwrap();
    assert_eq!(c.dhcp.mode, DhcpMode::Full);
    assert_eq!(c.dhcp.range_start, Some(Ipv4Addr::new(10, 0, 0, 10)));
    assert_eq!(c.dhcp.router, Some(Ipv4Addr::new(10, 0, 0, 1)));
}

#[test]
fn zero_durations_are_rejected_where_zero_means_nothing() {
    for (text, key) in [
        (
            "[conductor]\nheartbeat_interval = 0",
            "[conductor] heartbeat_interval",
        ),
        (
            "[conductor]\npower_state_change_timeout = 0",
            "[conductor] power_state_change_timeout",
        ),
        (
            "[conductor]\nsoft_power_off_timeout = 0",
            "[conductor] soft_power_off_timeout",
        ),
        (
            "[conductor]\ncheck_provision_state_interval = 0",
            "[conductor] check_provision_state_interval",
        ),
        (
            "[ipmi]\ncommand_timeout_ms = 0",
            "[ipmi] command_timeout_ms",
        ),
        (
            "[ipmi]\ncommand_retry_timeout = 0",
            "[ipmi] command_retry_timeout",
        ),
        (
            "[redfish]\nrequest_timeout = 0",
            "[redfish] request_timeout",
        ),
        ("[agent]\ncommand_timeout = 0", "[agent] command_timeout"),
        (
            "[agent]\nheartbeat_timeout = 0",
            "[agent] heartbeat_timeout",
        ),
        ("[dhcp]\nlease_time = 0", "[dhcp] lease_time"),
        ("[pxe]\ntftp_max_transfers = 0", "[pxe] tftp_max_transfers"),
    ] {
        let err = rejected(text, key);
        assert!(err.ends_with("must be at least 1"), "{err}");
    }
}

#[test]
fn negative_durations_are_rejected() {
    for (text, key) in [
        (
            "[conductor]\ndeploy_callback_timeout = -1",
            "[conductor] deploy_callback_timeout",
        ),
        (
            "[conductor]\nsync_power_state_interval = -60",
            "[conductor] sync_power_state_interval",
        ),
        (
            "[conductor]\nnode_locked_retry_interval_ms = -1",
            "[conductor] node_locked_retry_interval_ms",
        ),
        (
            "[conductor]\nheartbeat_timeout = -5",
            "[conductor] heartbeat_timeout",
        ),
        (
            "[database]\nbusy_timeout_ms = -1",
            "[database] busy_timeout_ms",
        ),
        (
            "[redfish]\nconnection_retry_interval = -4",
            "[redfish] connection_retry_interval",
        ),
        ("[pxe]\nipxe_timeout = -1", "[pxe] ipxe_timeout"),
        ("[pxe]\nimage_cache_ttl = -1", "[pxe] image_cache_ttl"),
        (
            "[agent]\npost_deploy_get_power_state_retry_interval_ms = -250",
            "[agent] post_deploy_get_power_state_retry_interval_ms",
        ),
    ] {
        let err = rejected(text, key);
        assert!(err.ends_with("must not be negative"), "{err}");
    }
    rejected("[dhcp]\nlease_time = 4294967296", "[dhcp] lease_time");
    rejected("[fake]\npower_delay = -1.0", "[fake] power_delay");
    rejected("[fake]\nboot_delay = \"5,1\"", "[fake] boot_delay");
}

#[test]
fn durations_keep_the_file_units_and_zero_means_off() {
    let c = Config::parse(
        "[conductor]\nnode_locked_retry_interval_ms = 50\ndeploy_callback_timeout = 0\n\
         sync_power_state_interval = 0\nclean_callback_timeout = 90\n\
         [pxe]\nimage_cache_ttl = 2\nipxe_timeout = 0\n[fake]\npower_delay = \"0.5,2\"",
        "t",
    )
    .unwrap();
    let cc = &c.conductor;
    assert_eq!(cc.node_locked_retry_interval_ms, Duration::from_millis(50));
    assert_eq!(cc.deploy_callback_timeout, None);
    assert_eq!(cc.sync_power_state_interval, None);
    assert_eq!(cc.clean_callback_timeout, Some(Duration::from_secs(90)));
    assert_eq!(cc.heartbeat_timeout, Duration::from_secs(60));
    assert_eq!(c.pxe.image_cache_ttl, Duration::from_secs(120));
    assert_eq!(c.pxe.ipxe_timeout, None);
    assert_eq!(c.pxe.tftp_max_transfers, 64);
    assert_eq!(c.pxe.http_root, PathBuf::from("./ironbox-data/httpboot"));
    assert_eq!(c.fake.power_delay.min, Duration::from_millis(500));
    assert_eq!(c.fake.power_delay.max, Duration::from_secs(2));
    assert_eq!(c.dhcp.interface, None);
    assert_eq!(c.dhcp.lease_secs(), 3600);
    assert_eq!(c.database.busy_timeout_millis(), 5000);
}

#[test]
fn other_bad_values_name_their_key() {
    rejected("[api]\nmax_limit = 0", "[api] max_limit");
    rejected(
        "[api]\nmax_json_body_size_inspection = 0",
        "[api] max_json_body_size_inspection",
    );
    rejected(
        "[api]\npublic_endpoint = \"ftp://x\"",
        "[api] public_endpoint",
    );
    rejected(
        "[redfish]\nconnection_attempts = 0",
        "[redfish] connection_attempts",
    );
    rejected(
        "[conductor]\nconductor_group = \"a b\"",
        "[conductor] conductor_group",
    );
    rejected(
        "[database]\nconnection = \"sqlite://\"",
        "[database] connection",
    );
    rejected("[database]\nmax_pool_size = 0", "[database] max_pool_size");
    rejected("[DEFAULT]\nstate_path = \"\"", "[DEFAULT] state_path");
    rejected(
        "[DEFAULT]\nenabled_hardware_types = []",
        "[DEFAULT] enabled_hardware_types",
    );
    rejected(
        "[api]\nenable_ssl_api = true\n[ssl]\ncert_file = \"c.pem\"",
        "[ssl] key_file",
    );
}

#[test]
fn enum_names_round_trip() {
    for name in DhcpMode::NAMES {
        assert_eq!(DhcpMode::parse(name).map(DhcpMode::as_str), Some(*name));
    }
    for name in BootMode::NAMES {
        assert_eq!(
            BootMode::parse(name).map(|m| m.to_string()).as_deref(),
            Some(*name)
        );
    }
    assert_eq!(ImageDownloadSource::Local.as_str(), "local");
    assert_eq!(RedfishAuthType::parse("auto"), Some(RedfishAuthType::Auto));
}

#[test]
fn console_ports_are_checked() {
    let c = Config::defaults().unwrap();
    assert_eq!(c.console.port_range, None);
    assert!(c.console.socat_address.is_loopback());
    let c = Config::parse("[console]\nport_range = \"10000:10100\"", "t").unwrap();
    assert_eq!(c.console.port_range, Some((10000, 10100)));
    for bad in ["10100:10000", "0:10", "10000", "a:b", "1:70000"] {
        let e = rejected(
            &format!("[console]\nport_range = \"{bad}\""),
            "[console] port_range",
        );
        assert!(e.contains("low:high"), "{e}");
    }
    // Raw TCP has no authentication: off loopback only when asked for.
    let e = rejected(
        "[console]\nsocat_address = \"0.0.0.0\"",
        "[console] socat_address",
    );
    assert!(e.contains("allow_public_tcp"), "{e}");
    Config::parse(
        "[console]\nsocat_address = \"0.0.0.0\"\nallow_public_tcp = true",
        "t",
    )
    .unwrap();
}

#[test]
fn discovery_and_inspector_options_are_checked() {
    let err = |text: &str| Config::parse(text, "t").unwrap_err().to_string();
    assert_eq!(
        err("[auto_discovery]\nenabled = true"),
        "t: [auto_discovery] driver: required when enabled = true"
    );
    assert!(
        err("[auto_discovery]\nenabled = true\ndriver = \"nope\"").starts_with(
            "t: [auto_discovery] driver: \"nope\" is not in [DEFAULT] enabled_hardware_types"
        )
    );
    assert!(err("[auto_discovery]\nnetworks = [\"\"]").contains("[auto_discovery] networks"));
    assert_eq!(
        err("[inspector]\nadd_ports = \"some\""),
        "t: [inspector] add_ports: \"some\" is not one of all, active, pxe, disabled"
    );
    assert!(err("[inspector]\nkeep_ports = \"none\"").contains("[inspector] keep_ports"));
    let c = Config::parse(
        "[auto_discovery]\nenabled = true\ndriver = \"fake-hardware\"\nnetworks = [\"eth1\"]\nmax_boots_per_minute = 0",
        "t",
    )
    .unwrap();
    assert!(c.auto_discovery.on_network("eth1") && !c.auto_discovery.on_network("eth0"));
    assert_eq!(c.auto_discovery.max_boots_per_minute, None);
    assert_eq!(c.auto_discovery.max_enrollments_per_minute, Some(60));
    assert_eq!(c.inspector.add_ports, AddPorts::Pxe);
    assert_eq!(c.inspector.keep_ports, KeepPorts::All);
}

#[test]
fn postgresql_urls_are_checked_and_never_echo_a_password() {
    let c = Config::parse(
        "[database]\nconnection = \"postgresql+psycopg2://u:pw@db.example:5433/ironic\"",
        "t.toml",
    )
    .unwrap();
    assert_eq!(
        c.database.postgres.as_deref(),
        Some("postgresql+psycopg2://u:pw@db.example:5433/ironic")
    );
    let plain = Config::parse("", "t.toml").unwrap();
    assert_eq!(plain.database.postgres, None);
    for (text, want) in [
        ("postgresql://u:secret@h:notaport/db", "bad PostgreSQL URL"),
        (
            "postgresql://u:secret@h:5432",
            "must name a host and a database",
        ),
        (
            "mysql://u:secret@h/db",
            "\"mysql\": only sqlite:// and postgresql://",
        ),
    ] {
        let err = rejected(
            &format!("[database]\nconnection = \"{text}\""),
            "[database] connection",
        );
        assert!(err.contains(want), "{text}: {err}");
        assert!(!err.contains("secret"), "{text}: {err}");
    }
}
