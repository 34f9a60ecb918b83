//! The BMC's own addresses (`bmc_address`, `bmc_v6address`, `bmc_mac`) read through the
//! kernel's IPMI device with Get LAN Configuration Parameters, scanning channels 1..=11 and
//! answering exactly as IPA's `ipmitool lan print` / `lan6 print` logic does: no device ⇒
//! every field null; a device but nothing configured ⇒ `0.0.0.0`, `::/0` and no MAC.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::time::Duration;

use ipmi_rs::connection::{IpmiConnection, LogicalUnit, Message, Request, RequestTargetAddress};

/// What the inventory reports.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BmcInfo {
    pub address: Option<String>,
    pub v6address: Option<String>,
    pub mac: Option<String>,
}

/// LAN configuration parameters (IPMI 2.0 table 23-4).
const IP_ADDRESS: u8 = 3;
const MAC_ADDRESS: u8 = 5;
const IPV6_STATUS: u8 = 55;
const IPV6_ADDRESSING_ENABLES: u8 = 51;
const IPV6_STATIC_ADDRESSES: u8 = 56;
const IPV6_DYNAMIC_ADDRESSES: u8 = 59;

/// Only channels 1..=11 can be LAN channels (0 is IPMB, 12..=15 reserved or special).
const CHANNELS: std::ops::RangeInclusive<u8> = 1..=11;
/// Address sets read per channel when the BMC does not say how many it has.
const DEFAULT_SETS: u8 = 4;
const MAX_SETS: u8 = 16;

/// The transport failed (no answer, device error): stop asking, as IPA stops when
/// `ipmitool` itself fails.
#[derive(Debug)]
pub struct Unreachable;

/// Ask one parameter: `Ok(Some(data))` without the revision byte, `Ok(None)` for a
/// non-zero completion code (no such channel or parameter).
pub trait LanConfig {
    fn get(&mut self, channel: u8, param: u8, set: u8) -> Result<Option<Vec<u8>>, Unreachable>;
}

/// `/dev/ipmi*`, `/dev/ipmi/*`, `/dev/ipmidev/*` character devices, as IPA looks for them.
pub fn find_device(dev: &Path) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::FileTypeExt;
    let mut candidates = vec![];
    for (dir, prefix) in [
        (dev.to_path_buf(), "ipmi"),
        (dev.join("ipmi"), ""),
        (dev.join("ipmidev"), ""),
    ] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            // Followed through links, as IPA's stat() does.
            let is_char = std::fs::metadata(e.path()).is_ok_and(|m| m.file_type().is_char_device());
            if name.starts_with(prefix) && is_char {
                candidates.push(e.path());
            }
        }
    }
    candidates.sort();
    candidates.into_iter().next()
}

/// The kernel IPMI device (`ipmi_devintf`).
pub struct Device(ipmi_rs::File);

impl Device {
    pub fn open(path: &Path) -> std::io::Result<Device> {
        ipmi_rs::File::new(path, Duration::from_secs(5)).map(Device)
    }
}

impl LanConfig for Device {
    fn get(&mut self, channel: u8, param: u8, set: u8) -> Result<Option<Vec<u8>>, Unreachable> {
        // Transport netfn (0x0c), Get LAN Configuration Parameters (0x02).
        let mut req = Request::new(
            Message::new_raw(0x0c, 0x02, vec![channel & 0x0f, param, set, 0]),
            RequestTargetAddress::Bmc(LogicalUnit::Zero),
        );
        let resp = self.0.send_recv(&mut req).map_err(|e| {
            tracing::warn!(error = %e, channel, param, "IPMI device did not answer");
            Unreachable
        })?;
        if resp.cc() != 0 {
            return Ok(None);
        }
        // First byte: parameter revision.
        Ok(resp.data().get(1..).map(<[u8]>::to_vec))
    }
}

/// Read all three, as IPA's inventory does: none of them when `lan` is `None` (no device).
pub fn read(lan: Option<&mut dyn LanConfig>) -> BmcInfo {
    let Some(lan) = lan else {
        return BmcInfo::default();
    };
    // A device that stops answering gets no second and third round of timeouts.
    read_all(lan).unwrap_or_default()
}

fn read_all(lan: &mut dyn LanConfig) -> Result<BmcInfo, Unreachable> {
    Ok(BmcInfo {
        address: Some(address(lan)?),
        v6address: Some(v6address(lan)?),
        mac: mac(lan)?,
    })
}

fn ipv4(data: &[u8]) -> Option<Ipv4Addr> {
    let b: [u8; 4] = data.get(..4)?.try_into().ok()?;
    Some(Ipv4Addr::from(b))
}

/// The first channel's IPv4 address that is not 0.0.0.0, else `0.0.0.0`.
fn address(lan: &mut dyn LanConfig) -> Result<String, Unreachable> {
    for ch in CHANNELS {
        if let Some(ip) = lan.get(ch, IP_ADDRESS, 0)?.as_deref().and_then(ipv4) {
            if !ip.is_unspecified() {
                return Ok(ip.to_string());
            }
        }
    }
    Ok(Ipv4Addr::UNSPECIFIED.to_string())
}

/// The first channel's MAC that is not all zeroes, on a channel with an IPv4 address or a
/// usable IPv6 one; `None` when there is none.
fn mac(lan: &mut dyn LanConfig) -> Result<Option<String>, Unreachable> {
    for ch in CHANNELS {
        let Some(ip) = lan.get(ch, IP_ADDRESS, 0)?.as_deref().and_then(ipv4) else {
            continue;
        };
        if ip.is_unspecified() && !has_global_v6(lan, ch)? {
            continue;
        }
        let Some(raw) = lan.get(ch, MAC_ADDRESS, 0)? else {
            continue;
        };
        let Some(mac) = raw.get(..6) else {
            continue;
        };
        if mac.iter().all(|b| *b == 0) {
            continue;
        }
        let text: Vec<String> = mac.iter().map(|b| format!("{b:02x}")).collect();
        return Ok(Some(text.join(":")));
    }
    Ok(None)
}

/// One IPv6 address entry of parameter 56 or 59: set selector, source/type, address (16),
/// prefix length, status.
struct V6Entry {
    source: u8,
    address: Ipv6Addr,
    status: u8,
}

fn v6_entry(data: &[u8]) -> Option<V6Entry> {
    let source = *data.get(1)?;
    let b: [u8; 16] = data.get(2..18)?.try_into().ok()?;
    let status = *data.get(19)?;
    Some(V6Entry {
        source,
        address: Ipv6Addr::from(b),
        status,
    })
}

/// Every address entry of one kind on a channel (sets 0..n, n from the IPv6 Status parameter).
fn v6_entries(lan: &mut dyn LanConfig, ch: u8, dynamic: bool) -> Result<Vec<V6Entry>, Unreachable> {
    let counts = lan.get(ch, IPV6_STATUS, 0)?;
    let count = counts
        .as_deref()
        .and_then(|c| c.get(usize::from(dynamic)).copied())
        .unwrap_or(DEFAULT_SETS)
        .min(MAX_SETS);
    let param = if dynamic {
        IPV6_DYNAMIC_ADDRESSES
    } else {
        IPV6_STATIC_ADDRESSES
    };
    let mut out = vec![];
    for set in 0..count {
        match lan.get(ch, param, set)? {
            Some(data) => out.extend(v6_entry(&data)),
            None => break,
        }
    }
    Ok(out)
}

/// An active, enabled address that is not `::`: static ones need the enable bit, dynamic
/// ones must come from SLAAC (1) or DHCPv6 (2).
fn usable(e: &V6Entry, dynamic: bool) -> bool {
    let enabled = if dynamic {
        matches!(e.source & 0x0f, 1 | 2)
    } else {
        e.source & 0x80 != 0
    };
    e.status == 0 && enabled && !e.address.is_unspecified()
}

/// The channel has IPv6 turned on (addressing enables: 1 IPv6 only, 2 both).
fn v6_enabled(lan: &mut dyn LanConfig, ch: u8) -> Result<bool, Unreachable> {
    let mode = lan.get(ch, IPV6_ADDRESSING_ENABLES, 0)?;
    Ok(matches!(
        mode.as_deref().and_then(|m| m.first()),
        Some(1 | 2)
    ))
}

/// The first usable IPv6 address (dynamic before static) on an IPv6-enabled channel, else `::/0`.
fn v6address(lan: &mut dyn LanConfig) -> Result<String, Unreachable> {
    for ch in CHANNELS {
        if !v6_enabled(lan, ch)? {
            continue;
        }
        for dynamic in [true, false] {
            if let Some(e) = v6_entries(lan, ch, dynamic)?
                .into_iter()
                .find(|e| usable(e, dynamic))
            {
                return Ok(e.address.to_string());
            }
        }
    }
    Ok("::/0".into())
}

/// For the MAC: an IPv6 address on the channel that is neither `::…` nor link-local, as
/// IPA's check of `lan6 print` output.
fn has_global_v6(lan: &mut dyn LanConfig, ch: u8) -> Result<bool, Unreachable> {
    for dynamic in [true, false] {
        for e in v6_entries(lan, ch, dynamic)? {
            let first = e.address.segments().first().copied().unwrap_or(0);
            if first != 0 && first != 0xfe80 {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// A BMC as a table of (channel, parameter, set) → data; missing keys answer with a
    /// completion code, `broken` stops answering at all.
    #[derive(Default)]
    struct Fake {
        table: BTreeMap<(u8, u8, u8), Vec<u8>>,
        broken: bool,
        asked: usize,
    }

    impl LanConfig for Fake {
        fn get(&mut self, ch: u8, param: u8, set: u8) -> Result<Option<Vec<u8>>, Unreachable> {
            self.asked += 1;
            if self.broken {
                return Err(Unreachable);
            }
            Ok(self.table.get(&(ch, param, set)).cloned())
        }
    }

    fn v6(source: u8, addr: &str, status: u8) -> Vec<u8> {
        let a: Ipv6Addr = addr.parse().unwrap();
        let mut d = vec![0, source];
        d.extend(a.octets());
        d.extend([64, status]);
        d
    }

    #[test]
    fn no_device_reports_nothing() {
        assert_eq!(read(None), BmcInfo::default());
    }

    #[test]
    fn an_unconfigured_bmc_reports_ipas_placeholders() {
        let mut f = Fake::default();
        f.table.insert((1, IP_ADDRESS, 0), vec![0, 0, 0, 0]);
        f.table
            .insert((1, MAC_ADDRESS, 0), vec![0x52, 0x54, 0, 1, 2, 3]);
        let got = read(Some(&mut f));
        assert_eq!(got.address.as_deref(), Some("0.0.0.0"));
        assert_eq!(got.v6address.as_deref(), Some("::/0"));
        assert_eq!(got.mac, None);
    }

    #[test]
    fn the_first_configured_lan_channel_wins() {
        let mut f = Fake::default();
        // channel 1 is not LAN (no answer); 2 is LAN without an address; 8 has one
        f.table.insert((2, IP_ADDRESS, 0), vec![0, 0, 0, 0]);
        f.table.insert((2, MAC_ADDRESS, 0), vec![0, 0, 0, 0, 0, 2]);
        f.table.insert((8, IP_ADDRESS, 0), vec![192, 0, 2, 8]);
        f.table
            .insert((8, MAC_ADDRESS, 0), vec![0x52, 0x54, 0, 0xab, 0xcd, 0xef]);
        f.table.insert((8, IPV6_ADDRESSING_ENABLES, 0), vec![2]);
        f.table.insert((8, IPV6_STATUS, 0), vec![2, 1, 0]);
        f.table
            .insert((8, IPV6_DYNAMIC_ADDRESSES, 0), v6(0x01, "fe80::1", 0));
        // static: first disabled, second active and enabled
        f.table
            .insert((8, IPV6_STATIC_ADDRESSES, 0), v6(0x00, "2001:db8::7", 0));
        f.table
            .insert((8, IPV6_STATIC_ADDRESSES, 1), v6(0x80, "2001:db8::8", 0));
        let got = read(Some(&mut f));
        assert_eq!(got.address.as_deref(), Some("192.0.2.8"));
        assert_eq!(got.mac.as_deref(), Some("52:54:00:ab:cd:ef"));
        // the dynamic fe80:: address is active and SLAAC: IPA returns it first too
        assert_eq!(got.v6address.as_deref(), Some("fe80::1"));
    }

    #[test]
    fn v6_only_bmc() {
        let mut f = Fake::default();
        f.table.insert((1, IP_ADDRESS, 0), vec![0, 0, 0, 0]);
        f.table
            .insert((1, MAC_ADDRESS, 0), vec![0x52, 0x54, 0, 0, 0, 9]);
        f.table.insert((1, IPV6_ADDRESSING_ENABLES, 0), vec![1]);
        // no IPv6 Status parameter: the default number of sets is tried
        f.table
            .insert((1, IPV6_DYNAMIC_ADDRESSES, 0), v6(0x02, "::", 0));
        f.table
            .insert((1, IPV6_DYNAMIC_ADDRESSES, 1), v6(0x02, "2001:db8::9", 1));
        f.table
            .insert((1, IPV6_STATIC_ADDRESSES, 0), v6(0x80, "2001:db8::a", 0));
        let got = read(Some(&mut f));
        assert_eq!(got.address.as_deref(), Some("0.0.0.0"));
        assert_eq!(got.v6address.as_deref(), Some("2001:db8::a"));
        assert_eq!(got.mac.as_deref(), Some("52:54:00:00:00:09"));
    }

    #[test]
    fn short_answers_and_a_dead_device() {
        let mut f = Fake::default();
        f.table.insert((1, IP_ADDRESS, 0), vec![10, 0]);
        f.table.insert((1, MAC_ADDRESS, 0), vec![1, 2, 3]);
        f.table.insert((1, IPV6_ADDRESSING_ENABLES, 0), vec![]);
        f.table.insert((3, IP_ADDRESS, 0), vec![10, 0, 0, 3]);
        f.table.insert((3, MAC_ADDRESS, 0), vec![1, 2, 3]);
        f.table.insert((3, IPV6_ADDRESSING_ENABLES, 0), vec![1]);
        f.table.insert((3, IPV6_STATUS, 0), vec![1, 200]);
        f.table
            .insert((3, IPV6_STATIC_ADDRESSES, 0), vec![0, 0x80, 1]);
        let got = read(Some(&mut f));
        assert_eq!(got.address.as_deref(), Some("10.0.0.3"));
        assert_eq!(got.v6address.as_deref(), Some("::/0"));
        assert_eq!(got.mac, None);
        // a set count past the cap is capped
        assert!(f.asked < 200, "{}", f.asked);

        let mut dead = Fake {
            broken: true,
            ..Fake::default()
        };
        assert_eq!(read(Some(&mut dead)), BmcInfo::default());
    }

    #[test]
    fn device_lookup_takes_character_devices_only() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("ipmi0"), b"").unwrap();
        assert_eq!(find_device(t.path()), None);
        std::fs::create_dir(t.path().join("ipmi")).unwrap();
        assert_eq!(find_device(t.path()), None);
        // /dev/null is a character device every test machine has
        std::os::unix::fs::symlink("/dev/null", t.path().join("ipmi/0")).unwrap();
        assert_eq!(find_device(t.path()), Some(t.path().join("ipmi/0")));
        std::os::unix::fs::symlink("/dev/null", t.path().join("ipmidev-not")).unwrap();
        assert_eq!(find_device(t.path()), Some(t.path().join("ipmi/0")));
        assert_eq!(find_device(Path::new("/nonexistent")), None);
    }
}
