//! The machine's hardware in ironic-python-agent's inventory shape, read from `/sys` and
//! `/proc` (both roots configurable so tests run against a fixture tree).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{json, Value};

use super::bmc::BmcInfo;
use crate::model::lldp::{tlvs_to_json, Tlv};
use crate::model::mac::Mac;

/// Where the agent looks at the machine, and what it was told to use instead.
#[derive(Debug, Clone)]
pub struct Machine {
    pub sys: PathBuf,
    pub proc: PathBuf,
    /// Disks given on the command line (`--disk`): files or devices, size from their length.
    pub disk_override: Vec<PathBuf>,
    /// MACs given on the command line (`--mac`): used instead of `/sys/class/net`.
    pub mac_override: Vec<String>,
    /// The PXE MAC (`BOOTIF`).
    pub boot_mac: Option<String>,
    /// EFI variables given on the command line (`--efivars`): the machine counts as
    /// UEFI-booted when it exists, and boot entries go there instead of the firmware.
    pub efivars_override: Option<PathBuf>,
    /// LLDP TLVs captured at start-up, by interface name (`ipa-collect-lldp`).
    pub lldp: Option<BTreeMap<String, Vec<Tlv>>>,
    /// The BMC's addresses, read once at start-up as IPA caches them.
    pub bmc: BmcInfo,
}

impl Default for Machine {
    fn default() -> Self {
        Machine {
            sys: PathBuf::from("/sys"),
            proc: PathBuf::from("/proc"),
            disk_override: vec![],
            mac_override: vec![],
            boot_mac: None,
            efivars_override: None,
            lldp: None,
            bmc: BmcInfo::default(),
        }
    }
}

pub use crate::model::hints::Disk;

/// One network interface, in IPA's `NetworkInterface` fields.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Interface {
    pub name: String,
    pub mac_address: String,
    pub ipv4_address: Option<String>,
    pub ipv6_address: Option<String>,
    pub has_carrier: bool,
    pub lldp: Option<Value>,
    pub vendor: Option<String>,
    pub product: Option<String>,
    pub client_id: Option<String>,
    pub biosdevname: Option<String>,
    pub speed_mbps: Option<i64>,
    pub pci_address: Option<String>,
    pub driver: Option<String>,
}

fn read_trim(p: &Path) -> Option<String> {
    std::fs::read_to_string(p)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn link_name(p: &Path) -> Option<String> {
    std::fs::read_link(p)
        .ok()
        .and_then(|t| t.file_name().map(|n| n.to_string_lossy().into_owned()))
}

/// Block devices that are not disks: loop, RAM disks, device-mapper, optical drives.
fn virtual_block(name: &str) -> bool {
    ["loop", "ram", "zram", "dm-", "sr", "fd", "md", "nbd"]
        .iter()
        .any(|p| name.starts_with(p))
}

fn looks_like_hctl(s: &str) -> bool {
    let parts: Vec<&str> = s.split(':').collect();
    parts.len() == 4
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

impl Machine {
    /// The disks the agent may write to, sorted by name.
    pub fn disks(&self) -> Vec<Disk> {
        if !self.disk_override.is_empty() {
            return self
                .disk_override
                .iter()
                .map(|p| Disk {
                    name: p.display().to_string(),
                    model: "file".into(),
                    size: std::fs::metadata(p).map(|m| m.len()).unwrap_or(0),
                    rotational: false,
                    wwn: None,
                    serial: None,
                    vendor: None,
                    wwn_with_extension: None,
                    wwn_vendor_extension: None,
                    hctl: None,
                    by_path: None,
                    logical_sectors: Some(512),
                    physical_sectors: Some(512),
                    tran: None,
                })
                .collect();
        }
        let block = self.sys.join("block");
        let mut out = vec![];
        let Ok(entries) = std::fs::read_dir(&block) else {
            return out;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let dir = block.join(&name);
            // `hidden`: NVMe multipath per-controller paths (nvme0c0n1) have no /dev node.
            if virtual_block(&name)
                || !dir.join("device").exists()
                || read_trim(&dir.join("hidden")).as_deref() == Some("1")
            {
                continue;
            }
            let sectors: u64 = read_trim(&dir.join("size"))
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            if sectors == 0 {
                continue; // empty card reader slots and the like
            }
            let dev = dir.join("device");
            let hctl = link_name(&dev).filter(|s| looks_like_hctl(s));
            let tran = if name.starts_with("nvme") {
                Some("nvme".to_string())
            } else if hctl.is_some() {
                Some("scsi".to_string())
            } else {
                None
            };
            let wwn = read_trim(&dir.join("wwid")).or_else(|| read_trim(&dev.join("wwid")));
            let dev_name = format!("/dev/{name}");
            out.push(Disk {
                by_path: self.by_path(&dev_name),
                name: dev_name,
                model: read_trim(&dev.join("model")).unwrap_or_default(),
                size: sectors * 512,
                rotational: read_trim(&dir.join("queue/rotational")).as_deref() == Some("1"),
                wwn_with_extension: wwn.clone(),
                wwn,
                serial: read_trim(&dev.join("serial")),
                vendor: read_trim(&dev.join("vendor")),
                wwn_vendor_extension: None,
                hctl,
                logical_sectors: read_trim(&dir.join("queue/logical_block_size"))
                    .and_then(|s| s.parse().ok()),
                physical_sectors: read_trim(&dir.join("queue/physical_block_size"))
                    .and_then(|s| s.parse().ok()),
                tran,
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// `/dev/disk/by-path/…` link pointing at `dev`, when udev made one.
    fn by_path(&self, dev: &str) -> Option<String> {
        let dir = Path::new("/dev/disk/by-path");
        let entries = std::fs::read_dir(dir).ok()?;
        for e in entries.flatten() {
            let p = e.path();
            if let Ok(target) = std::fs::canonicalize(&p) {
                if target == Path::new(dev) {
                    return Some(p.display().to_string());
                }
            }
        }
        None
    }

    /// Network interfaces with a MAC (physical ones: those with a `device` link).
    pub fn interfaces(&self) -> Vec<Interface> {
        let bare = |name: String, mac: String| Interface {
            name,
            mac_address: mac,
            ipv4_address: None,
            ipv6_address: None,
            has_carrier: true,
            lldp: None,
            vendor: None,
            product: None,
            client_id: None,
            biosdevname: None,
            speed_mbps: None,
            pci_address: None,
            driver: None,
        };
        if !self.mac_override.is_empty() {
            return self
                .mac_override
                .iter()
                .enumerate()
                .map(|(i, m)| bare(format!("if{i}"), m.clone()))
                .collect();
        }
        let net = self.sys.join("class/net");
        let addrs = if_addrs::get_if_addrs().unwrap_or_default();
        let mut out = vec![];
        let Ok(entries) = std::fs::read_dir(&net) else {
            return out;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let dir = net.join(&name);
            let dev = dir.join("device");
            if name == "lo" || !dev.exists() {
                continue;
            }
            let Some(mac) = read_trim(&dir.join("address")).and_then(|m| Mac::parse_lenient(&m))
            else {
                continue;
            };
            let mut i = bare(name.clone(), mac.to_string());
            i.lldp = self
                .lldp
                .as_ref()
                .and_then(|l| l.get(&name))
                .map(|t| tlvs_to_json(t));
            i.has_carrier = read_trim(&dir.join("carrier")).as_deref() == Some("1");
            i.ipv4_address = addrs
                .iter()
                .find(|a| a.name == name && a.ip().is_ipv4())
                .map(|a| a.ip().to_string());
            i.ipv6_address = addrs
                .iter()
                .find(|a| a.name == name && a.ip().is_ipv6())
                .map(|a| a.ip().to_string());
            i.vendor = read_trim(&dev.join("vendor"));
            i.product = read_trim(&dev.join("device"));
            i.driver = link_name(&dev.join("driver"));
            i.speed_mbps = read_trim(&dir.join("speed"))
                .and_then(|s| s.parse().ok())
                .filter(|s: &i64| *s > 0);
            i.pci_address = std::fs::canonicalize(&dev).ok().and_then(|p| {
                // virtio NICs hang off a PCI function: take the nearest `dddd:bb:dd.f`.
                p.ancestors()
                    .filter_map(|a| a.file_name().map(|n| n.to_string_lossy().into_owned()))
                    .find(|n| n.len() == 12 && n.as_bytes().get(4) == Some(&b':'))
            });
            out.push(i);
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// The MACs to look the node up with.
    pub fn macs(&self) -> Vec<String> {
        self.interfaces()
            .into_iter()
            .map(|i| i.mac_address)
            .collect()
    }

    fn cpu(&self) -> Value {
        let text = std::fs::read_to_string(self.proc.join("cpuinfo")).unwrap_or_default();
        let mut count = 0;
        let mut model = None;
        let mut mhz = None;
        let mut flags: Vec<String> = vec![];
        let mut sockets = std::collections::BTreeSet::new();
        for line in text.lines() {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            let (k, v) = (k.trim(), v.trim());
            match k {
                "processor" => count += 1,
                "model name" if model.is_none() => model = Some(v.to_string()),
                "cpu MHz" if mhz.is_none() => mhz = Some(v.to_string()),
                "flags" | "Features" if flags.is_empty() => {
                    flags = v.split_whitespace().map(str::to_string).collect()
                }
                "physical id" => {
                    sockets.insert(v.to_string());
                }
                _ => {}
            }
        }
        json!({
            "model_name": model,
            "frequency": mhz,
            "count": count,
            "architecture": std::env::consts::ARCH,
            "flags": flags,
            "socket_count": if sockets.is_empty() { None } else { Some(sockets.len()) },
        })
    }

    fn memory(&self) -> Value {
        let text = std::fs::read_to_string(self.proc.join("meminfo")).unwrap_or_default();
        let total_kib: u64 = text
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        // Physical size = online memory blocks (includes what the kernel reserved).
        let mem = self.sys.join("devices/system/memory");
        let block =
            read_trim(&mem.join("block_size_bytes")).and_then(|s| u64::from_str_radix(&s, 16).ok());
        let online = std::fs::read_dir(&mem)
            .map(|d| {
                d.flatten()
                    .filter(|e| e.file_name().to_string_lossy().starts_with("memory"))
                    .filter(|e| read_trim(&e.path().join("online")).as_deref() == Some("1"))
                    .count() as u64
            })
            .unwrap_or(0);
        let physical_mb = match block {
            Some(b) if online > 0 => Some(b * online / (1 << 20)),
            _ if total_kib > 0 => Some(total_kib.div_ceil(1024)),
            _ => None,
        };
        json!({"total": total_kib * 1024, "physical_mb": physical_mb})
    }

    fn system_vendor(&self) -> Value {
        let dmi = self.sys.join("class/dmi/id");
        let r = |f: &str| read_trim(&dmi.join(f)).unwrap_or_default();
        json!({
            "product_name": r("product_name"),
            "serial_number": r("product_serial"),
            "manufacturer": r("sys_vendor"),
            "firmware": {"vendor": r("bios_vendor"), "version": r("bios_version"),
                         "build_date": r("bios_date")},
        })
    }

    /// Where the firmware's variables are (efivarfs).
    pub fn efivars(&self) -> PathBuf {
        self.efivars_override
            .clone()
            .unwrap_or_else(|| self.sys.join("firmware/efi/efivars"))
    }

    pub fn boot_mode(&self) -> &'static str {
        let uefi = match &self.efivars_override {
            Some(p) => p.is_dir(),
            None => self.sys.join("firmware/efi").is_dir(),
        };
        if uefi {
            "uefi"
        } else {
            "bios"
        }
    }

    /// IPA's inventory (`poll.get_hardware_info`, inspection data).
    pub fn inventory(&self) -> Value {
        let hostname = read_trim(&self.proc.join("sys/kernel/hostname")).unwrap_or_default();
        let mut inv = json!({
            "interfaces": self.interfaces(),
            "cpu": self.cpu(),
            "disks": self.disks(),
            "memory": self.memory(),
            "bmc_address": self.bmc.address,
            "bmc_v6address": self.bmc.v6address,
            "system_vendor": self.system_vendor(),
            "boot": {"current_boot_mode": self.boot_mode(), "pxe_interface": self.boot_mac},
            "hostname": hostname,
        });
        // IPA leaves the key out when the BMC has no MAC to report.
        if let (Some(mac), Some(obj)) = (&self.bmc.mac, inv.as_object_mut()) {
            obj.insert("bmc_mac".into(), json!(mac));
        }
        inv
    }

    /// IPA's `pci-devices` collector: every function in `/sys/bus/pci/devices`, ids without
    /// their `0x`; a device whose vendor, device or class cannot be read is skipped.
    pub fn pci_devices(&self) -> Vec<Value> {
        let dir = self.sys.join("bus/pci/devices");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return vec![];
        };
        let hex =
            |p: &Path| read_trim(p).and_then(|v| v.split_once('x').map(|(_, h)| h.to_string()));
        let mut out: Vec<(String, Value)> = entries
            .flatten()
            .filter_map(|e| {
                let bus = e.file_name().to_string_lossy().into_owned();
                let d = dir.join(&bus);
                let vendor = hex(&d.join("vendor"))?;
                let product = hex(&d.join("device"))?;
                let class = hex(&d.join("class"))?;
                let v = json!({
                    "vendor_id": vendor,
                    "product_id": product,
                    "class": class,
                    "revision": hex(&d.join("revision")),
                    "bus": bus,
                    "numa_node_id": read_trim(&d.join("numa_node")),
                });
                Some((bus, v))
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out.into_iter().map(|(_, v)| v).collect()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn put(root: &Path, rel: &str, text: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    /// A small fixture machine: one SCSI HDD, one NVMe SSD, a loop device, a NIC.
    pub fn fixture() -> (tempfile::TempDir, Machine) {
        let t = tempfile::tempdir().unwrap();
        let sys = t.path().join("sys");
        let proc_ = t.path().join("proc");
        let hw = sys.join("devices/pci0000:00");
        // sda: SCSI disk 0:0:0:0, 10 GiB, rotational
        put(
            &hw,
            "0000:00:05.0/host0/target0:0:0/0:0:0:0/model",
            "QEMU HARDDISK   \n",
        );
        put(
            &hw,
            "0000:00:05.0/host0/target0:0:0/0:0:0:0/vendor",
            "ATA\n",
        );
        std::fs::create_dir_all(sys.join("block/sda/queue")).unwrap();
        std::os::unix::fs::symlink(
            hw.join("0000:00:05.0/host0/target0:0:0/0:0:0:0"),
            sys.join("block/sda/device"),
        )
        .unwrap();
        put(&sys, "block/sda/size", &format!("{}\n", 10u64 << 21));
        put(&sys, "block/sda/queue/rotational", "1\n");
        put(&sys, "block/sda/queue/logical_block_size", "512\n");
        put(&sys, "block/sda/queue/physical_block_size", "4096\n");
        // nvme0n1: 5 GiB SSD with serial and wwid
        put(&hw, "0000:00:04.0/nvme/nvme0/serial", "NVME-SERIAL-1\n");
        put(&hw, "0000:00:04.0/nvme/nvme0/model", "QEMU NVMe Ctrl\n");
        std::fs::create_dir_all(sys.join("block/nvme0n1/queue")).unwrap();
        std::os::unix::fs::symlink(
            hw.join("0000:00:04.0/nvme/nvme0"),
            sys.join("block/nvme0n1/device"),
        )
        .unwrap();
        put(&sys, "block/nvme0n1/size", &format!("{}\n", 5u64 << 21));
        put(&sys, "block/nvme0n1/wwid", "eui.0001\n");
        put(&sys, "block/nvme0n1/queue/rotational", "0\n");
        // nvme0c0n1: the hidden multipath path of the same namespace
        std::fs::create_dir_all(sys.join("block/nvme0c0n1")).unwrap();
        std::os::unix::fs::symlink(
            hw.join("0000:00:04.0/nvme/nvme0"),
            sys.join("block/nvme0c0n1/device"),
        )
        .unwrap();
        put(&sys, "block/nvme0c0n1/size", &format!("{}\n", 5u64 << 21));
        put(&sys, "block/nvme0c0n1/hidden", "1\n");
        // loop0: not a disk
        put(&sys, "block/loop0/size", "2048\n");
        // NIC eth0 with a PCI virtio device
        put(&hw, "0000:00:03.0/virtio0/vendor", "0x1af4\n");
        put(&hw, "0000:00:03.0/virtio0/device", "0x0001\n");
        put(&sys, "bus/virtio/drivers/virtio_net/.keep", "");
        std::os::unix::fs::symlink(
            sys.join("bus/virtio/drivers/virtio_net"),
            hw.join("0000:00:03.0/virtio0/driver"),
        )
        .unwrap();
        std::fs::create_dir_all(sys.join("class/net/eth0")).unwrap();
        std::os::unix::fs::symlink(
            hw.join("0000:00:03.0/virtio0"),
            sys.join("class/net/eth0/device"),
        )
        .unwrap();
        put(&sys, "class/net/eth0/address", "52:54:00:12:34:56\n");
        put(&sys, "class/net/eth0/carrier", "1\n");
        put(&sys, "class/net/eth0/speed", "-1\n");
        put(&sys, "class/net/lo/address", "00:00:00:00:00:00\n");
        put(&sys, "class/dmi/id/sys_vendor", "QEMU\n");
        put(&sys, "class/dmi/id/product_name", "Standard PC\n");
        put(&sys, "class/dmi/id/bios_version", "1.16\n");
        put(&sys, "firmware/efi/.keep", "");
        put(
            &proc_,
            "cpuinfo",
            "processor\t: 0\nmodel name\t: Test CPU\ncpu MHz\t\t: 2400.000\nphysical id\t: 0\n\
             flags\t\t: fpu sse2 lm\n\nprocessor\t: 1\nmodel name\t: Test CPU\n\
             cpu MHz\t\t: 2400.000\nphysical id\t: 0\nflags\t\t: fpu sse2 lm\n",
        );
        put(
            &proc_,
            "meminfo",
            "MemTotal:        2000000 kB\nMemFree: 1 kB\n",
        );
        put(&proc_, "sys/kernel/hostname", "node-1\n");
        put(&sys, "devices/system/memory/block_size_bytes", "8000000\n");
        for i in 0..16 {
            put(
                &sys,
                &format!("devices/system/memory/memory{i}/online"),
                "1\n",
            );
        }
        let m = Machine {
            sys,
            proc: proc_,
            disk_override: vec![],
            mac_override: vec![],
            boot_mac: Some("52:54:00:12:34:56".into()),
            efivars_override: None,
            lldp: None,
            bmc: BmcInfo::default(),
        };
        (t, m)
    }

    #[test]
    fn inventory_from_fixture_tree() {
        let (_t, m) = fixture();
        let inv = m.inventory();
        let disks = inv["disks"].as_array().unwrap();
        assert_eq!(disks.len(), 2, "{disks:?}");
        assert_eq!(disks[0]["name"], "/dev/nvme0n1");
        assert_eq!(disks[0]["size"], 5u64 << 30);
        assert_eq!(disks[0]["serial"], "NVME-SERIAL-1");
        assert_eq!(disks[0]["model"], "QEMU NVMe Ctrl");
        assert_eq!(disks[0]["wwn"], "eui.0001");
        assert_eq!(disks[0]["rotational"], false);
        assert_eq!(disks[0]["tran"], "nvme");
        assert_eq!(disks[1]["name"], "/dev/sda");
        assert_eq!(disks[1]["hctl"], "0:0:0:0");
        assert_eq!(disks[1]["model"], "QEMU HARDDISK");
        assert_eq!(disks[1]["vendor"], "ATA");
        assert_eq!(disks[1]["rotational"], true);
        assert_eq!(disks[1]["physical_sectors"], 4096);
        let nics = inv["interfaces"].as_array().unwrap();
        assert_eq!(nics.len(), 1);
        assert_eq!(nics[0]["name"], "eth0");
        assert_eq!(nics[0]["mac_address"], "52:54:00:12:34:56");
        assert_eq!(nics[0]["has_carrier"], true);
        assert_eq!(nics[0]["vendor"], "0x1af4");
        assert_eq!(nics[0]["driver"], "virtio_net");
        assert_eq!(nics[0]["pci_address"], "0000:00:03.0");
        assert_eq!(nics[0]["speed_mbps"], Value::Null);
        assert_eq!(inv["cpu"]["count"], 2);
        assert_eq!(inv["cpu"]["model_name"], "Test CPU");
        assert_eq!(inv["cpu"]["frequency"], "2400.000");
        assert_eq!(inv["cpu"]["flags"], json!(["fpu", "sse2", "lm"]));
        assert_eq!(inv["cpu"]["socket_count"], 1);
        assert_eq!(inv["memory"]["total"], 2_000_000u64 * 1024);
        assert_eq!(inv["memory"]["physical_mb"], 2048);
        assert_eq!(inv["system_vendor"]["manufacturer"], "QEMU");
        assert_eq!(inv["system_vendor"]["firmware"]["version"], "1.16");
        assert_eq!(inv["boot"]["current_boot_mode"], "uefi");
        assert_eq!(inv["boot"]["pxe_interface"], "52:54:00:12:34:56");
        assert_eq!(inv["hostname"], "node-1");
    }

    #[test]
    fn lldp_bmc_and_pci_devices_in_ipas_shapes() {
        let (_t, mut m) = fixture();
        // No capture, no BMC device: lldp null, BMC addresses null, no bmc_mac key.
        let inv = m.inventory();
        assert_eq!(inv["interfaces"][0]["lldp"], Value::Null);
        assert_eq!(inv["bmc_address"], Value::Null);
        assert_eq!(inv["bmc_v6address"], Value::Null);
        assert!(inv.get("bmc_mac").is_none());
        m.lldp = Some(BTreeMap::from([
            (
                "eth0".to_string(),
                vec![(1, vec![4, 0, 0x1c, 0x73, 0, 0, 1]), (0, vec![])],
            ),
            ("eth9".to_string(), vec![]),
        ]));
        m.bmc = BmcInfo {
            address: Some("192.0.2.8".into()),
            v6address: Some("::/0".into()),
            mac: Some("52:54:00:ab:cd:ef".into()),
        };
        let inv = m.inventory();
        assert_eq!(
            inv["interfaces"][0]["lldp"],
            json!([[1, "04001c73000001"], [0, ""]])
        );
        assert_eq!(inv["bmc_address"], "192.0.2.8");
        assert_eq!(inv["bmc_v6address"], "::/0");
        assert_eq!(inv["bmc_mac"], "52:54:00:ab:cd:ef");
        // A NIC that heard nothing has an empty list, not null.
        m.lldp = Some(BTreeMap::from([("eth0".to_string(), vec![])]));
        assert_eq!(m.inventory()["interfaces"][0]["lldp"], json!([]));

        let pci = m.sys.join("bus/pci/devices");
        put(&pci, "0000:00:03.0/vendor", "0x1af4\n");
        put(&pci, "0000:00:03.0/device", "0x1000\n");
        put(&pci, "0000:00:03.0/class", "0x020000\n");
        put(&pci, "0000:00:03.0/revision", "0x00\n");
        put(&pci, "0000:00:03.0/numa_node", "-1\n");
        put(&pci, "0000:00:01.0/vendor", "0x8086\n");
        put(&pci, "0000:00:01.0/device", "0x29c0\n");
        put(&pci, "0000:00:01.0/class", "0x060000\n");
        // unreadable class, and an id without 0x: skipped as IPA does
        put(&pci, "0000:00:02.0/vendor", "0x1234\n");
        put(&pci, "0000:00:02.0/device", "0x1111\n");
        put(&pci, "0000:00:04.0/vendor", "8086\n");
        put(&pci, "0000:00:04.0/device", "0x10d3\n");
        put(&pci, "0000:00:04.0/class", "0x020000\n");
        assert_eq!(
            Value::Array(m.pci_devices()),
            json!([
                {"vendor_id": "8086", "product_id": "29c0", "class": "060000",
                 "revision": null, "bus": "0000:00:01.0", "numa_node_id": null},
                {"vendor_id": "1af4", "product_id": "1000", "class": "020000",
                 "revision": "00", "bus": "0000:00:03.0", "numa_node_id": "-1"},
            ])
        );
    }

    #[test]
    fn overrides_replace_sys() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("disk.img");
        std::fs::write(&d, vec![0u8; 4096]).unwrap();
        let m = Machine {
            sys: t.path().join("nothing"),
            disk_override: vec![d.clone()],
            mac_override: vec!["52:54:00:00:00:01".into()],
            ..Machine::default()
        };
        let disks = m.disks();
        assert_eq!(disks.len(), 1);
        assert_eq!(disks[0].name, d.display().to_string());
        assert_eq!(disks[0].size, 4096);
        assert_eq!(m.macs(), vec!["52:54:00:00:00:01".to_string()]);
        assert_eq!(m.boot_mode(), "bios");
    }
}
