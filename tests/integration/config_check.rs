//! `ironbox config check` rejects every bad value that `serve` rejects before it touches the
//! network, one file per value, naming `[section] key`; `serve` refuses the same files.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::harness::bin;

/// Each bad file and the `[section] key` its error must name.
const CASES: &[(&str, &str)] = &[
    // Closed sets of names.
    ("[dhcp]\nmode = \"bogus\"\n", "[dhcp] mode"),
    (
        "[DEFAULT]\nauth_strategy = \"none\"\n",
        "[DEFAULT] auth_strategy",
    ),
    (
        "[DEFAULT]\nauth_strategy = \"keystone\"\n",
        "[DEFAULT] auth_strategy",
    ),
    (
        "[agent]\nimage_download_source = \"swift\"\n",
        "[agent] image_download_source",
    ),
    ("[redfish]\nauth_type = \"digest\"\n", "[redfish] auth_type"),
    (
        "[deploy]\ndefault_boot_mode = \"legacy\"\n",
        "[deploy] default_boot_mode",
    ),
    // Addresses and ranges.
    ("[api]\nhost_ip = \"localhost\"\n", "[api] host_ip"),
    ("[api]\nhost_ip = \"0.0.0.0\"\n", "[api] host_ip"),
    ("[dhcp]\nrange_start = \"10.0.0\"\n", "[dhcp] range_start"),
    ("[dhcp]\nrange_end = \"10.0.0.256\"\n", "[dhcp] range_end"),
    ("[dhcp]\nrouter = \"gateway\"\n", "[dhcp] router"),
    ("[dhcp]\ndns_servers = [\"::1\"]\n", "[dhcp] dns_servers"),
    ("[dhcp]\nmode = \"full\"\n", "[dhcp] range_start"),
    (
        "[dhcp]\nmode = \"full\"\nrange_start = \"10.0.0.10\"\n",
        "[dhcp] range_end",
    ),
    (
        "[dhcp]\nmode = \"full\"\nrange_start = \"10.0.0.20\"\nrange_end = \"10.0.0.10\"\n",
        "[dhcp] range_start",
    ),
    // Times: zero where zero means nothing, negative anywhere.
    (
        "[conductor]\nheartbeat_interval = 0\n",
        "[conductor] heartbeat_interval",
    ),
    (
        "[conductor]\nheartbeat_timeout = 5\n",
        "[conductor] heartbeat_timeout",
    ),
    (
        "[conductor]\npower_state_change_timeout = 0\n",
        "[conductor] power_state_change_timeout",
    ),
    (
        "[conductor]\nsoft_power_off_timeout = 0\n",
        "[conductor] soft_power_off_timeout",
    ),
    (
        "[conductor]\ncheck_provision_state_interval = 0\n",
        "[conductor] check_provision_state_interval",
    ),
    (
        "[conductor]\ndeploy_callback_timeout = -1\n",
        "[conductor] deploy_callback_timeout",
    ),
    (
        "[conductor]\nsync_power_state_interval = -1\n",
        "[conductor] sync_power_state_interval",
    ),
    (
        "[conductor]\nnode_locked_retry_interval_ms = -1\n",
        "[conductor] node_locked_retry_interval_ms",
    ),
    (
        "[database]\nbusy_timeout_ms = -1\n",
        "[database] busy_timeout_ms",
    ),
    (
        "[ipmi]\ncommand_timeout_ms = 0\n",
        "[ipmi] command_timeout_ms",
    ),
    (
        "[ipmi]\ncommand_retry_timeout = 0\n",
        "[ipmi] command_retry_timeout",
    ),
    (
        "[redfish]\nrequest_timeout = 0\n",
        "[redfish] request_timeout",
    ),
    (
        "[redfish]\nconnection_retry_interval = -1\n",
        "[redfish] connection_retry_interval",
    ),
    ("[agent]\ncommand_timeout = 0\n", "[agent] command_timeout"),
    (
        "[agent]\nheartbeat_timeout = 0\n",
        "[agent] heartbeat_timeout",
    ),
    ("[dhcp]\nlease_time = 0\n", "[dhcp] lease_time"),
    ("[pxe]\nipxe_timeout = -1\n", "[pxe] ipxe_timeout"),
    ("[pxe]\nimage_cache_ttl = -1\n", "[pxe] image_cache_ttl"),
    ("[fake]\npower_delay = \"5,1\"\n", "[fake] power_delay"),
    // Counts, names, URLs, files.
    ("[api]\nmax_limit = 0\n", "[api] max_limit"),
    (
        "[api]\nmax_json_body_size = 0\n",
        "[api] max_json_body_size",
    ),
    (
        "[api]\nmax_json_body_depth = 0\n",
        "[api] max_json_body_depth",
    ),
    (
        "[api]\npublic_endpoint = \"example.com\"\n",
        "[api] public_endpoint",
    ),
    ("[api]\nenable_ssl_api = true\n", "[ssl] cert_file"),
    (
        "[redfish]\nconnection_attempts = 0\n",
        "[redfish] connection_attempts",
    ),
    (
        "[conductor]\nworkers_pool_size = 0\n",
        "[conductor] workers_pool_size",
    ),
    (
        "[conductor]\nsync_power_state_workers = 0\n",
        "[conductor] sync_power_state_workers",
    ),
    (
        "[conductor]\nconductor_group = \"a b\"\n",
        "[conductor] conductor_group",
    ),
    (
        "[database]\nconnection = \"postgresql://x\"\n",
        "[database] connection",
    ),
    (
        "[database]\nmax_pool_size = 0\n",
        "[database] max_pool_size",
    ),
    ("[DEFAULT]\nstate_path = \"\"\n", "[DEFAULT] state_path"),
    ("[DEFAULT]\nhost = \"two words\"\n", "[DEFAULT] host"),
    (
        "[DEFAULT]\ndefault_portgroup_mode = \"\"\n",
        "[DEFAULT] default_portgroup_mode",
    ),
    (
        "[DEFAULT]\nenabled_hardware_types = []\n",
        "[DEFAULT] enabled_hardware_types",
    ),
    (
        "[DEFAULT]\nenabled_hardware_types = [\"ilo\"]\n",
        "[DEFAULT] enabled_hardware_types",
    ),
    (
        "[DEFAULT]\nenabled_power_interfaces = [\"ilo\"]\n",
        "[DEFAULT] enabled_power_interfaces",
    ),
    (
        "[DEFAULT]\nauth_strategy = \"http_basic\"\nhttp_basic_auth_user_file = \"\"\n",
        "[DEFAULT] http_basic_auth_user_file",
    ),
];

/// Run ironbox in `cwd` (so a wrongly accepted file leaves its data there); a `serve` that
/// accepts its file is stopped after 10 s.
fn run(args: &[&str], cwd: &std::path::Path) -> (Option<i32>, String) {
    let mut child = Command::new(bin())
        .args(args)
        .current_dir(cwd)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ironbox");
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().expect("wait for ironbox").is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let Output { status, stderr, .. } = child.wait_with_output().expect("ironbox output");
    (status.code(), String::from_utf8_lossy(&stderr).into())
}

#[test]
fn config_check_rejects_what_serve_rejects() {
    let dir = tempfile::tempdir().unwrap();
    for (i, (text, key)) in CASES.iter().enumerate() {
        let f = dir.path().join(format!("bad{i}.toml"));
        std::fs::write(&f, text).unwrap();
        let path = f.to_str().unwrap();
        let want = format!("{path}: {key}: ");
        let (code, err) = run(&["config", "check", path], dir.path());
        assert!(
            code.is_some_and(|c| c != 0),
            "config check accepted:\n{text}"
        );
        assert!(err.contains(&want), "config check of\n{text}\nsaid: {err}");
        let (code, serve_err) = run(&["serve", "--config", path], dir.path());
        assert!(code.is_some_and(|c| c != 0), "serve accepted:\n{text}");
        assert!(
            serve_err.contains(&want),
            "serve with\n{text}\nsaid: {serve_err}"
        );
    }
}

#[test]
fn config_check_accepts_a_full_dhcp_setup_without_the_interface() {
    // The interface's existence and subnet are checked when serving, not here.
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("ok.toml");
    std::fs::write(
        &f,
        "[dhcp]\ninterface = \"no-such-if0\"\nmode = \"full\"\nrange_start = \"10.9.0.10\"\n\
         range_end = \"10.9.0.20\"\nrouter = \"10.9.0.1\"\ndns_servers = [\"10.9.0.1\"]\n",
    )
    .unwrap();
    let (code, err) = run(&["config", "check", f.to_str().unwrap()], dir.path());
    assert_eq!(code, Some(0), "{err}");
}
