//! The kernel command line as the agent reads it: the `ipa-*` parameters Ironic puts there
//! (the same names ironic-python-agent understands) and the PXE MAC in `BOOTIF`.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::model::mac::Mac;

/// The parameters the agent acts on; everything else on the line is ignored.
#[derive(Debug, Clone, PartialEq)]
pub struct KernelParams {
    /// `ipa-api-url`: the first of possibly several comma-separated URLs.
    pub api_url: Option<String>,
    /// `ipa-inspection-callback-url`.
    pub inspection_callback_url: Option<String>,
    /// `BOOTIF`, normalised to `aa:bb:cc:dd:ee:ff`.
    pub boot_mac: Option<String>,
    /// `ipa-agent-token`: pre-shared token (virtual media boots).
    pub agent_token: Option<String>,
    pub lookup_timeout: Duration,
    pub lookup_interval: Duration,
    pub listen_host: Option<String>,
    pub listen_port: u16,
    pub advertise_host: Option<String>,
    pub advertise_port: Option<u16>,
    pub download_retries: u32,
    pub download_retry_interval: Duration,
    pub download_connect_timeout: Duration,
    pub debug: bool,
    /// `ironbox.min_root_disk_mib` (ironbox's own): the smallest disk picked without root
    /// device hints, in bytes (default IPA's 4 GiB; lab VMs have tiny disks).
    pub min_root_disk: u64,
    /// `ipa-collect-lldp`: capture LLDP on every NIC for the inventory's `interfaces[].lldp`.
    pub collect_lldp: bool,
    /// `ipa-lldp-timeout` (IPA's default 30 s).
    pub lldp_timeout: Duration,
    /// `ipa-inspection-collectors`, comma-separated (ironbox's default: `default,pci-devices`).
    pub collectors: Vec<String>,
    /// Every `key=value` word, as given (later words win).
    pub raw: BTreeMap<String, String>,
}

impl Default for KernelParams {
    fn default() -> Self {
        KernelParams {
            api_url: None,
            inspection_callback_url: None,
            boot_mac: None,
            agent_token: None,
            lookup_timeout: Duration::from_secs(600),
            lookup_interval: Duration::from_secs(1),
            listen_host: None,
            listen_port: 9999,
            advertise_host: None,
            advertise_port: None,
            download_retries: 9,
            download_retry_interval: Duration::from_secs(10),
            download_connect_timeout: Duration::from_secs(60),
            debug: false,
            min_root_disk: 4 << 30,
            collect_lldp: false,
            lldp_timeout: crate::agent::lldp::DEFAULT_TIMEOUT,
            collectors: vec!["default".into(), "pci-devices".into()],
            raw: BTreeMap::new(),
        }
    }
}

/// Split a command line into words, honouring double quotes (`key="a b"`).
fn words(line: &str) -> Vec<String> {
    let mut out = vec![];
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    out
}

fn secs(raw: &BTreeMap<String, String>, key: &str, default: Duration) -> Duration {
    raw.get(key)
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v >= 0.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(default)
}

fn truthy(v: &str) -> bool {
    matches!(
        v.to_ascii_lowercase().as_str(),
        "1" | "true" | "yes" | "on" | "y" | "t"
    )
}

/// Parse `/proc/cmdline` text. Unknown or malformed values fall back to IPA's defaults:
/// a bad kernel parameter must not keep the machine from being provisioned.
pub fn parse(line: &str) -> KernelParams {
    let mut raw = BTreeMap::new();
    for w in words(line) {
        if let Some((k, v)) = w.split_once('=') {
            raw.insert(k.to_string(), v.to_string());
        } else {
            raw.insert(w, String::new());
        }
    }
    let d = KernelParams::default();
    let nonempty = |k: &str| raw.get(k).filter(|v| !v.is_empty()).cloned();
    KernelParams {
        api_url: nonempty("ipa-api-url").and_then(|v| {
            v.split(',')
                .map(str::trim)
                .find(|s| !s.is_empty())
                .map(|s| s.trim_end_matches('/').to_string())
        }),
        inspection_callback_url: nonempty("ipa-inspection-callback-url"),
        boot_mac: raw
            .get("BOOTIF")
            .and_then(|v| Mac::parse_lenient(v))
            .map(|m| m.to_string()),
        agent_token: nonempty("ipa-agent-token"),
        lookup_timeout: secs(&raw, "ipa-lookup-timeout", d.lookup_timeout),
        lookup_interval: secs(&raw, "ipa-lookup-interval", d.lookup_interval),
        listen_host: nonempty("ipa-listen-host"),
        listen_port: raw
            .get("ipa-listen-port")
            .and_then(|v| v.parse().ok())
            .unwrap_or(d.listen_port),
        advertise_host: nonempty("ipa-advertise-host"),
        advertise_port: raw.get("ipa-advertise-port").and_then(|v| v.parse().ok()),
        download_retries: raw
            .get("ipa-image-download-connection-retries")
            .and_then(|v| v.parse().ok())
            .unwrap_or(d.download_retries),
        download_retry_interval: secs(
            &raw,
            "ipa-image-download-connection-retry-interval",
            d.download_retry_interval,
        ),
        download_connect_timeout: secs(
            &raw,
            "ipa-image-download-connection-timeout",
            d.download_connect_timeout,
        ),
        debug: raw.get("ipa-debug").is_some_and(|v| truthy(v)),
        min_root_disk: raw
            .get("ironbox.min_root_disk_mib")
            .and_then(|v| v.parse::<u64>().ok())
            .map(|mib| mib << 20)
            .unwrap_or(d.min_root_disk),
        collect_lldp: raw.get("ipa-collect-lldp").is_some_and(|v| truthy(v)),
        lldp_timeout: secs(&raw, "ipa-lldp-timeout", d.lldp_timeout),
        collectors: nonempty("ipa-inspection-collectors")
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or(d.collectors),
        raw,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ironic_pxe_line() {
        let p = parse(
            "nofb vga=normal ipa-debug=1 ipa-api-url=http://10.0.0.1:6385 selinux=0 \
             troubleshoot=0 text BOOTIF=01-52-54-00-AB-cd-01 initrd=deploy_ramdisk \
             ipa-global-request-id=req-1",
        );
        assert_eq!(p.api_url.as_deref(), Some("http://10.0.0.1:6385"));
        assert_eq!(p.boot_mac.as_deref(), Some("52:54:00:ab:cd:01"));
        assert!(p.debug);
        assert_eq!(p.listen_port, 9999);
        assert_eq!(p.lookup_timeout, Duration::from_secs(600));
        assert_eq!(p.raw["initrd"], "deploy_ramdisk");
        assert_eq!(p.raw["text"], "");
    }

    #[test]
    fn vmedia_line_and_overrides() {
        let p = parse(
            "ipa-api-url=https://a:6385/,https://b:6385 BOOTIF=52:54:00:ab:cd:02 \
             ipa-agent-token=abc ipa-lookup-timeout=30 ipa-listen-port=9000 \
             ipa-advertise-host=10.1.1.1 ipa-image-download-connection-retries=2 \
             ipa-image-download-connection-retry-interval=0.5 extra=\"a b\" \
             ironbox.min_root_disk_mib=32",
        );
        assert_eq!(p.api_url.as_deref(), Some("https://a:6385"));
        assert_eq!(p.boot_mac.as_deref(), Some("52:54:00:ab:cd:02"));
        assert_eq!(p.agent_token.as_deref(), Some("abc"));
        assert_eq!(p.lookup_timeout, Duration::from_secs(30));
        assert_eq!(p.listen_port, 9000);
        assert_eq!(p.advertise_host.as_deref(), Some("10.1.1.1"));
        assert_eq!(p.download_retries, 2);
        assert_eq!(p.download_retry_interval, Duration::from_millis(500));
        assert_eq!(p.raw["extra"], "a b");
        assert_eq!(p.min_root_disk, 32 << 20);
    }

    #[test]
    fn lldp_and_collectors() {
        let d = parse("BOOTIF=01-aa-bb-cc-dd-ee-ff");
        assert!(!d.collect_lldp);
        assert_eq!(d.lldp_timeout, Duration::from_secs(30));
        assert_eq!(d.collectors, vec!["default", "pci-devices"]);
        let p = parse(
            "ipa-collect-lldp=1 ipa-lldp-timeout=2.5 ipa-inspection-collectors=default,,lldp",
        );
        assert!(p.collect_lldp);
        assert_eq!(p.lldp_timeout, Duration::from_millis(2500));
        assert_eq!(p.collectors, vec!["default", "lldp"]);
        let bad = parse("ipa-collect-lldp=maybe ipa-lldp-timeout=-1 ipa-inspection-collectors=");
        assert!(!bad.collect_lldp);
        assert_eq!(bad.lldp_timeout, Duration::from_secs(30));
        assert_eq!(bad.collectors, vec!["default", "pci-devices"]);
    }

    #[test]
    fn bad_values_fall_back() {
        let p = parse("ipa-lookup-timeout=soon ipa-listen-port=99999 BOOTIF=zz ipa-api-url=");
        assert_eq!(p.lookup_timeout, Duration::from_secs(600));
        assert_eq!(p.listen_port, 9999);
        assert_eq!(p.boot_mac, None);
        assert_eq!(p.api_url, None);
    }

    #[test]
    fn mac_forms() {
        let norm = |s: &str| Mac::parse_lenient(s).map(|m| m.to_string());
        assert_eq!(
            norm("01-aa-bb-cc-dd-ee-ff").as_deref(),
            Some("aa:bb:cc:dd:ee:ff")
        );
        assert_eq!(
            norm("AA-BB-CC-DD-EE-FF").as_deref(),
            Some("aa:bb:cc:dd:ee:ff")
        );
        assert_eq!(norm("aa:bb:cc:dd:ee"), None);
        assert_eq!(norm("02-aa-bb-cc-dd-ee-ff"), None);
        assert_eq!(norm("aa:bb:cc:dd:ee:fg"), None);
        assert_eq!(
            parse("BOOTIF=01-AA-bb-cc-dd-ee-ff").boot_mac.as_deref(),
            Some("aa:bb:cc:dd:ee:ff")
        );
    }
}
