//! `ironbox ramdisk build`: a deploy ramdisk for the built-in agent. The initramfs is a
//! gzip'd newc cpio written here: busybox and its applet links, this binary and the shared
//! libraries it needs, kernel modules in load order, and an `/init` that brings the PXE NIC
//! up with DHCP and runs `ironbox agent` (powering off when it exits).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Modules loaded by default from `--modules-dir` (with their dependencies), when present:
/// common virtual and physical NIC and disk drivers, efivarfs for UEFI boot entries,
/// af_packet for LLDP capture and the IPMI system interface with its /dev/ipmi0 (the BMC's
/// addresses for inspection).
const DEFAULT_MODULES: &[&str] = &[
    "efivarfs",
    "af_packet",
    "ipmi_si",
    "ipmi_devintf",
    "virtio_pci",
    "virtio_net",
    "virtio_blk",
    "virtio_scsi",
    "nvme",
    "ahci",
    "sd_mod",
    "e1000",
    "e1000e",
    "igb",
    "ixgbe",
    "i40e",
    "ice",
    "bnxt_en",
    "tg3",
    "mlx5_core",
    "megaraid_sas",
    "mpt3sas",
];

#[derive(Debug, thiserror::Error)]
pub enum RamdiskError {
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> RamdiskError {
    let path = path.display().to_string();
    move |source| RamdiskError::Io { what, path, source }
}

#[derive(Debug, Clone)]
pub struct BuildOptions {
    pub kernel: PathBuf,
    /// A directory of `.ko` files with a `modules.order` (in it or its parent).
    pub modules: Option<PathBuf>,
    /// A `/lib/modules/<version>` tree: DEFAULT_MODULES and their dependencies are taken.
    pub modules_dir: Option<PathBuf>,
    pub busybox: PathBuf,
    /// The agent binary (default: the running executable).
    pub agent: Option<PathBuf>,
    pub out: PathBuf,
}

#[derive(Debug, Clone)]
pub struct Built {
    pub kernel: PathBuf,
    pub initramfs: PathBuf,
    pub entries: usize,
    pub modules: Vec<String>,
}

/// A newc ("070701") cpio archive writer.
pub struct Cpio<W: Write> {
    w: W,
    ino: u32,
    pos: u64,
    pub entries: usize,
}

impl<W: Write> Cpio<W> {
    pub fn new(w: W) -> Self {
        Cpio {
            w,
            ino: 1,
            pos: 0,
            entries: 0,
        }
    }

    fn put(&mut self, b: &[u8]) -> std::io::Result<()> {
        self.w.write_all(b)?;
        self.pos += b.len() as u64;
        Ok(())
    }

    fn pad(&mut self) -> std::io::Result<()> {
        let n = ((4 - self.pos % 4) % 4) as usize;
        self.put([0u8; 3].get(..n).unwrap_or_default())
    }

    fn entry(
        &mut self,
        name: &str,
        mode: u32,
        data: &[u8],
        rdev: (u32, u32),
    ) -> std::io::Result<()> {
        let name = name.trim_start_matches('/');
        let nlink = if mode & 0o170000 == 0o040000 { 2 } else { 1 };
        let fields = [
            self.ino,
            mode,
            0,
            0,
            nlink,
            0,
            data.len() as u32,
            0,
            0,
            rdev.0,
            rdev.1,
            name.len() as u32 + 1,
            0,
        ];
        let mut h = String::from("070701");
        for f in fields {
            h.push_str(&format!("{f:08X}"));
        }
        self.put(h.as_bytes())?;
        self.put(name.as_bytes())?;
        self.put(&[0])?;
        self.pad()?;
        self.put(data)?;
        self.pad()?;
        self.ino += 1;
        self.entries += 1;
        Ok(())
    }

    pub fn dir(&mut self, name: &str) -> std::io::Result<()> {
        self.entry(name, 0o040755, &[], (0, 0))
    }

    pub fn file(&mut self, name: &str, mode: u32, data: &[u8]) -> std::io::Result<()> {
        self.entry(name, 0o100000 | (mode & 0o7777), data, (0, 0))
    }

    pub fn symlink(&mut self, name: &str, target: &str) -> std::io::Result<()> {
        self.entry(name, 0o120777, target.as_bytes(), (0, 0))
    }

    pub fn chardev(&mut self, name: &str, major: u32, minor: u32) -> std::io::Result<()> {
        self.entry(name, 0o020600, &[], (major, minor))
    }

    pub fn finish(mut self) -> std::io::Result<W> {
        self.entry("TRAILER!!!", 0, &[], (0, 0))?;
        Ok(self.w)
    }
}

/// One member read back from a newc archive (tests and `ramdisk list`-style checks).
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub name: String,
    pub mode: u32,
    pub data: Vec<u8>,
}

/// Parse a (decompressed) newc archive.
pub fn read_cpio(b: &[u8]) -> Result<Vec<Member>, RamdiskError> {
    let bad = |why: &str| RamdiskError::Invalid(format!("bad cpio: {why}"));
    let mut out = vec![];
    let mut p = 0usize;
    let align = |x: usize| x.div_ceil(4) * 4;
    loop {
        let h = b.get(p..p + 110).ok_or_else(|| bad("truncated header"))?;
        if h.get(..6) != Some(b"070701") {
            return Err(bad("not newc"));
        }
        let field = |i: usize| -> Result<usize, RamdiskError> {
            let raw = h
                .get(6 + 8 * i..14 + 8 * i)
                .ok_or_else(|| bad("truncated header"))?;
            let s = std::str::from_utf8(raw).map_err(|_| bad("hex"))?;
            usize::from_str_radix(s, 16).map_err(|_| bad("hex"))
        };
        let (mode, size, namesize) = (field(1)?, field(6)?, field(11)?);
        let name_end = p + 110 + namesize;
        let name = b
            .get(p + 110..name_end - 1)
            .ok_or_else(|| bad("truncated name"))?;
        let name = String::from_utf8_lossy(name).into_owned();
        let data_start = align(name_end);
        let data = b
            .get(data_start..data_start + size)
            .ok_or_else(|| bad("truncated data"))?
            .to_vec();
        p = align(data_start + size);
        if name == "TRAILER!!!" {
            return Ok(out);
        }
        out.push(Member {
            name,
            mode: mode as u32,
            data,
        });
    }
}

/// Shared libraries (and the ELF interpreter) `bin` needs, from `ldd`; empty when static.
fn needed_libs(bin: &Path) -> Result<Vec<PathBuf>, RamdiskError> {
    let out = std::process::Command::new("ldd")
        .arg(bin)
        .output()
        .map_err(io("running ldd on", bin))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut libs = vec![];
    for line in text.lines() {
        let path = match line.split_once("=>") {
            Some((_, r)) => r.split_whitespace().next(),
            None => line.split_whitespace().next(),
        };
        if let Some(p) = path.filter(|p| p.starts_with('/')) {
            libs.push(PathBuf::from(p));
        }
    }
    Ok(libs)
}

/// `modules.order` lines (names or paths, with or without `.ko`) to files in `dir`.
fn modules_from_dir(dir: &Path) -> Result<Vec<(String, PathBuf)>, RamdiskError> {
    let order = [dir.join("modules.order"), dir.join("../modules.order")]
        .into_iter()
        .find(|p| p.is_file())
        .ok_or_else(|| {
            RamdiskError::Invalid(format!(
                "no modules.order in {} or its parent (one module name per line, load order)",
                dir.display()
            ))
        })?;
    let text = std::fs::read_to_string(&order).map_err(io("reading", &order))?;
    let mut out = vec![];
    for line in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let base = line.rsplit('/').next().unwrap_or(line);
        let name = base.trim_end_matches(".ko").to_string();
        let file = [
            dir.join(line),
            dir.join(base),
            dir.join(format!("{name}.ko")),
        ]
        .into_iter()
        .find(|p| p.is_file())
        .ok_or_else(|| {
            RamdiskError::Invalid(format!(
                "module {line} listed in {} not found in {}",
                order.display(),
                dir.display()
            ))
        })?;
        out.push((name, file));
    }
    Ok(out)
}

/// DEFAULT_MODULES found in a `/lib/modules/<ver>` tree, dependencies first.
fn modules_from_tree(root: &Path) -> Result<Vec<(String, PathBuf)>, RamdiskError> {
    let depfile = root.join("modules.dep");
    let text = std::fs::read_to_string(&depfile).map_err(io("reading", &depfile))?;
    let name_of = |p: &str| {
        let b = p.rsplit('/').next().unwrap_or(p);
        b.split(".ko").next().unwrap_or(b).replace('-', "_")
    };
    let mut deps: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new();
    for line in text.lines() {
        let Some((m, rest)) = line.split_once(':') else {
            continue;
        };
        let ds = rest.split_whitespace().map(name_of).collect();
        deps.insert(name_of(m), (m.to_string(), ds));
    }
    fn visit(
        m: &str,
        deps: &BTreeMap<String, (String, Vec<String>)>,
        seen: &mut BTreeSet<String>,
        out: &mut Vec<(String, String)>,
    ) {
        if !seen.insert(m.to_string()) {
            return;
        }
        if let Some((rel, ds)) = deps.get(m) {
            // modules.dep lists the deepest dependency last: load it first.
            for d in ds.iter().rev() {
                visit(d, deps, seen, out);
            }
            out.push((m.to_string(), rel.clone()));
        }
    }
    let mut order = vec![];
    let mut seen = BTreeSet::new();
    for m in DEFAULT_MODULES {
        visit(m, &deps, &mut seen, &mut order);
    }
    order
        .into_iter()
        .map(|(m, rel)| {
            if rel.ends_with(".ko") {
                Ok((m, root.join(&rel)))
            } else {
                Err(RamdiskError::Invalid(format!(
                    "module {rel} is compressed; busybox insmod needs plain .ko files"
                )))
            }
        })
        .collect()
}

const UDHCPC_SCRIPT: &str = r#"#!/bin/sh
# udhcpc hook: address, default route and DNS
case "$1" in
  deconfig) ip addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    [ -n "${router:-}" ] && ip route replace default via "${router%% *}" dev "$interface"
    if [ -n "${dns:-}" ]; then
      for d in $dns; do echo "nameserver $d"; done > /etc/resolv.conf
    fi ;;
esac
exit 0
"#;

const INIT: &str = r#"#!/bin/sh
# ironbox deploy ramdisk init
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /run /tmp /var/log
mount -t tmpfs tmpfs /tmp
[ -d /sys/firmware/efi/efivars ] && mount -t efivarfs efivarfs /sys/firmware/efi/efivars 2>/dev/null
exec </dev/console >/dev/console 2>&1
dmesg -n 1
say() { echo "ironbox-init: $*"; }
off() { say "powering off"; sync; poweroff -f; sleep 30; exit 1; }
say "started"
for m in $(cat /etc/modules); do
  insmod "/lib/modules/$m.ko" || say "insmod $m failed"
done
MAC=
for p in $(cat /proc/cmdline); do
  case "$p" in
    BOOTIF=*) MAC=$(echo "${p#BOOTIF=}" | sed 's/^01-//' | tr 'A-F-' 'a-f:') ;;
  esac
done
ip link set lo up
NICS= i=0
while [ $i -lt 100 ]; do          # up to 10 s for the NICs to appear
  NICS=
  for n in /sys/class/net/*; do
    n=${n##*/}
    [ "$n" = lo ] && continue
    [ -e "/sys/class/net/$n/device" ] || continue
    if [ -n "$MAC" ] && [ "$(cat /sys/class/net/$n/address)" = "$MAC" ]; then NICS=$n; break; fi
    NICS="$NICS $n"
  done
  [ -n "$MAC" ] && [ "$NICS" != "${NICS# }" ] && { i=$((i+1)); sleep 0.1; continue; }
  [ -n "$NICS" ] && break
  i=$((i+1)); sleep 0.1
done
[ -n "$NICS" ] || say "no network interface found"
LEASE=
for n in $NICS; do
  ip link set "$n" up
  say "dhcp on $n ($(cat /sys/class/net/$n/address))"
  udhcpc -i "$n" -f -q -n -t 10 -T 1 -s /etc/udhcpc.script && LEASE=1
done
[ -n "$LEASE" ] || say "no DHCP lease"
say "starting the agent"
/bin/ironbox agent
say "agent exited with status $?"
if [ -e /etc/.rescued ]; then       # rescue.finalize_rescue set the rescue user's password
  CON=console
  for p in $(cat /proc/cmdline); do
    case "$p" in console=*) CON=${p#console=}; CON=${CON%%,*} ;; esac
  done
  say "rescue mode: log in as rescue on $CON"
  while :; do getty -L 115200 "$CON" vt100; sleep 1; done
fi
off
"#;

/// Build `<out>/ironbox-agent.kernel` and `<out>/ironbox-agent.initramfs`.
pub fn build(o: &BuildOptions) -> Result<Built, RamdiskError> {
    if o.modules.is_some() && o.modules_dir.is_some() {
        return Err(RamdiskError::Invalid(
            "give --modules or --modules-dir, not both".into(),
        ));
    }
    let agent = match &o.agent {
        Some(p) => p.clone(),
        None => {
            std::env::current_exe().map_err(io("finding", Path::new("the running executable")))?
        }
    };
    let modules = match (&o.modules, &o.modules_dir) {
        (Some(d), _) => modules_from_dir(d)?,
        (_, Some(t)) => modules_from_tree(t)?,
        _ => vec![],
    };
    std::fs::create_dir_all(&o.out).map_err(io("creating", &o.out))?;
    let kernel_out = o.out.join("ironbox-agent.kernel");
    std::fs::copy(&o.kernel, &kernel_out).map_err(io("copying the kernel", &o.kernel))?;

    let initramfs = o.out.join("ironbox-agent.initramfs");
    let tmp = o.out.join(".ironbox-agent.initramfs.tmp");
    let f = std::fs::File::create(&tmp).map_err(io("creating", &tmp))?;
    let gz = flate2::write::GzEncoder::new(std::io::BufWriter::new(f), flate2::Compression::new(6));
    let mut c = Cpio::new(gz);
    let w = |e: std::io::Error| RamdiskError::Io {
        what: "writing",
        path: initramfs.display().to_string(),
        source: e,
    };
    const BASE_DIRS: &[&str] = &[
        "bin",
        "sbin",
        "dev",
        "etc",
        "lib",
        "lib/modules",
        "lib64",
        "mnt",
        "proc",
        "root",
        "run",
        "sys",
        "tmp",
        "usr",
        "usr/bin",
        "usr/sbin",
        "var",
        "var/log",
    ];
    for d in BASE_DIRS {
        c.dir(d).map_err(w)?;
    }
    c.chardev("dev/console", 5, 1).map_err(w)?;
    c.chardev("dev/null", 1, 3).map_err(w)?;

    let busybox = std::fs::read(&o.busybox).map_err(io("reading", &o.busybox))?;
    c.file("bin/busybox", 0o755, &busybox).map_err(w)?;
    let listed = std::process::Command::new(&o.busybox)
        .arg("--list")
        .output();
    let applets: Vec<String> = match listed {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .filter(|a| !a.is_empty() && a != "busybox" && !a.contains('/'))
            .collect(),
        _ => "sh mount umount insmod ip udhcpc sleep cat echo poweroff reboot sed tr cut dmesg \
              sync ls mkdir ln rm cp mv ps kill wget"
            .split(' ')
            .map(str::to_string)
            .collect(),
    };
    for a in &applets {
        c.symlink(&format!("bin/{a}"), "busybox").map_err(w)?;
    }

    // Parents of the libraries are created once; the kernel does not make missing ones.
    let mut dirs: BTreeSet<String> = BASE_DIRS.iter().map(|s| s.to_string()).collect();
    let mut libs = needed_libs(&agent)?;
    libs.extend(needed_libs(&o.busybox)?);
    let libs: BTreeSet<PathBuf> = libs.into_iter().collect();
    for lib in &libs {
        let rel = lib.to_string_lossy().trim_start_matches('/').to_string();
        let mut parent = PathBuf::new();
        for comp in Path::new(&rel)
            .parent()
            .into_iter()
            .flat_map(|p| p.components())
        {
            parent.push(comp);
            let p = parent.to_string_lossy().into_owned();
            if dirs.insert(p.clone()) {
                c.dir(&p).map_err(w)?;
            }
        }
        let data = std::fs::read(lib).map_err(io("reading", lib))?;
        c.file(&rel, 0o755, &data).map_err(w)?;
    }
    // A debug build is ~100 MiB; without its debug info the ramdisk is a fifth of that.
    let stripped = o.out.join(".ironbox-agent.stripped");
    let strip_ok = std::process::Command::new("strip")
        .arg("--strip-debug")
        .arg("-o")
        .arg(&stripped)
        .arg(&agent)
        .status()
        .is_ok_and(|s| s.success());
    let agent_file = if strip_ok { &stripped } else { &agent };
    let agent_bytes = std::fs::read(agent_file).map_err(io("reading", agent_file))?;
    let _ = std::fs::remove_file(&stripped);
    c.file("bin/ironbox", 0o755, &agent_bytes).map_err(w)?;

    let mut names = vec![];
    for (name, path) in &modules {
        let data = std::fs::read(path).map_err(io("reading", path))?;
        c.file(&format!("lib/modules/{name}.ko"), 0o644, &data)
            .map_err(w)?;
        names.push(name.clone());
    }
    let mut order = names.join("\n");
    order.push('\n');
    c.file("etc/modules", 0o644, order.as_bytes()).map_err(w)?;
    c.file("etc/udhcpc.script", 0o755, UDHCPC_SCRIPT.as_bytes())
        .map_err(w)?;
    c.file("etc/passwd", 0o644, b"root:x:0:0:root:/root:/bin/sh\n")
        .map_err(w)?;
    c.file("etc/group", 0o644, b"root:x:0:\n").map_err(w)?;
    // No password logs in until a rescue sets the rescue user's.
    c.file("etc/shadow", 0o600, b"root:*:1:0:99999:7:::\n")
        .map_err(w)?;
    c.file("init", 0o755, INIT.as_bytes()).map_err(w)?;
    let entries = c.entries + 1;
    let gz = c.finish().map_err(w)?;
    let mut buf = gz.finish().map_err(w)?;
    buf.flush().map_err(w)?;
    drop(buf);
    std::fs::rename(&tmp, &initramfs).map_err(io("renaming", &tmp))?;
    Ok(Built {
        kernel: kernel_out,
        initramfs,
        entries,
        modules: names,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn unpack(p: &Path) -> Vec<Member> {
        let mut raw = vec![];
        flate2::read::GzDecoder::new(std::fs::File::open(p).unwrap())
            .read_to_end(&mut raw)
            .unwrap();
        read_cpio(&raw).unwrap()
    }

    #[test]
    fn cpio_round_trip() {
        let mut c = Cpio::new(vec![]);
        c.dir("a").unwrap();
        c.file("a/f", 0o755, b"hello").unwrap();
        c.symlink("a/l", "f").unwrap();
        c.chardev("dev/console", 5, 1).unwrap();
        let b = c.finish().unwrap();
        assert_eq!(b.len() % 4, 0);
        let m = read_cpio(&b).unwrap();
        assert_eq!(m.len(), 4);
        assert_eq!(
            m[1],
            Member {
                name: "a/f".into(),
                mode: 0o100755,
                data: b"hello".to_vec()
            }
        );
        assert_eq!(m[2].mode, 0o120777);
        assert_eq!(m[2].data, b"f");
        assert_eq!(m[3].mode & 0o170000, 0o020000);
    }

    #[test]
    fn builds_a_ramdisk() {
        let t = tempfile::tempdir().unwrap();
        let kernel = t.path().join("vmlinuz");
        std::fs::write(&kernel, b"kernel").unwrap();
        let mods = t.path().join("mods");
        std::fs::create_dir_all(mods.join("modules")).unwrap();
        std::fs::write(mods.join("modules/virtio.ko"), b"ko1").unwrap();
        std::fs::write(mods.join("modules/virtio_net.ko"), b"ko2").unwrap();
        // The lab layout: modules.order next to the modules directory.
        std::fs::write(mods.join("modules.order"), "virtio\nvirtio_net\n").unwrap();
        // A fake busybox: a shell script answering --list.
        let bb = t.path().join("busybox");
        std::fs::write(&bb, "#!/bin/sh\nprintf 'sh\\nip\\nudhcpc\\n'\n").unwrap();
        std::fs::set_permissions(&bb, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let agent = std::env::current_exe().unwrap();
        let out = t.path().join("out");
        let built = build(&BuildOptions {
            kernel,
            modules: Some(mods.join("modules")),
            modules_dir: None,
            busybox: bb,
            agent: Some(agent.clone()),
            out: out.clone(),
        })
        .unwrap();
        assert_eq!(std::fs::read(&built.kernel).unwrap(), b"kernel");
        assert_eq!(built.modules, vec!["virtio", "virtio_net"]);
        let m = unpack(&built.initramfs);
        assert_eq!(m.len(), built.entries - 1, "all but the trailer");
        let get = |n: &str| {
            m.iter()
                .find(|x| x.name == n)
                .unwrap_or_else(|| panic!("{n} missing"))
        };
        let init = get("init");
        assert_eq!(init.mode, 0o100755, "init is an executable file");
        let text = String::from_utf8_lossy(&init.data);
        assert!(text.starts_with("#!/bin/sh"));
        assert!(text.contains("/bin/ironbox agent"));
        assert!(text.contains("poweroff -f"));
        let bin = &get("bin/ironbox").data;
        assert_eq!(&bin[..4], b"\x7fELF");
        assert!(bin.len() as u64 <= std::fs::metadata(&agent).unwrap().len());
        assert!(
            !out.join(".ironbox-agent.stripped").exists(),
            "temporary removed"
        );
        assert_eq!(get("bin/udhcpc").data, b"busybox");
        assert_eq!(get("etc/modules").data, b"virtio\nvirtio_net\n");
        assert_eq!(get("lib/modules/virtio_net.ko").data, b"ko2");
        assert_eq!(get("dev/console").mode & 0o170000, 0o020000);
        // The test binary is dynamically linked: its loader and libc come along.
        let ldd = needed_libs(&agent).unwrap();
        assert!(!ldd.is_empty());
        for lib in ldd {
            get(lib.to_str().unwrap().trim_start_matches('/'));
        }
        // The system's busybox can list it too (when present).
        if Path::new("/bin/busybox").exists() {
            let listing = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!(
                    "gzip -dc {} | /bin/busybox cpio -t",
                    built.initramfs.display()
                ))
                .output()
                .unwrap();
            let names = String::from_utf8_lossy(&listing.stdout);
            assert!(names.lines().any(|l| l == "init"), "{names}");
            assert!(names.lines().any(|l| l == "bin/ironbox"));
        }
    }

    #[test]
    fn modules_from_a_kernel_tree_in_dependency_order() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        std::fs::write(
            root.join("modules.dep"),
            "kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko\n\
             kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko\n\
             kernel/net/core/failover.ko:\n\
             kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio.ko\n\
             kernel/drivers/virtio/virtio.ko:\n\
             kernel/drivers/other/unused.ko:\n\
             kernel/drivers/char/ipmi/ipmi_si.ko: kernel/drivers/char/ipmi/ipmi_msghandler.ko\n\
             kernel/drivers/char/ipmi/ipmi_devintf.ko: kernel/drivers/char/ipmi/ipmi_msghandler.ko\n\
             kernel/drivers/char/ipmi/ipmi_msghandler.ko:\n",
        )
        .unwrap();
        let m = modules_from_tree(root).unwrap();
        let names: Vec<&str> = m.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            vec![
                "ipmi_msghandler",
                "ipmi_si",
                "ipmi_devintf",
                "virtio",
                "virtio_pci",
                "failover",
                "net_failover",
                "virtio_net"
            ]
        );
        assert_eq!(m[3].1, root.join("kernel/drivers/virtio/virtio.ko"));
        std::fs::write(
            root.join("modules.dep"),
            "kernel/drivers/block/virtio_blk.ko.xz:\n",
        )
        .unwrap();
        assert!(modules_from_tree(root).is_err());
        assert!(modules_from_dir(root).is_err(), "no modules.order");
    }
}
