//! Recognising an image format from its first bytes.

/// How many leading bytes [`sniff`] needs to tell every format apart (ISO9660 keeps its
/// signature at byte 32769).
pub const SNIFF_LEN: usize = 0x8006;

/// What an image is, as far as deploying it is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Anything not recognised: written to disk as it is.
    Raw,
    Qcow2,
    Gzip,
    Iso,
    /// A known format ironbox refuses to deploy (named: vmdk, vhd, vhdx, vdi, qed, luks, xz,
    /// bzip2, zstd).
    Other(&'static str),
}

impl Format {
    /// Lower-case name, as Ironic spells disk formats.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Raw => "raw",
            Self::Qcow2 => "qcow2",
            Self::Gzip => "gzip",
            Self::Iso => "iso",
            Self::Other(n) => n,
        }
    }

    /// The format [`Format::name`] spells `name`, if any.
    pub fn from_name(name: &str) -> Option<Format> {
        let all = [
            Self::Raw,
            Self::Qcow2,
            Self::Gzip,
            Self::Iso,
            Self::Other("vmdk"),
            Self::Other("vhdx"),
            Self::Other("vhd"),
            Self::Other("vdi"),
            Self::Other("qed"),
            Self::Other("luks"),
            Self::Other("xz"),
            Self::Other("bzip2"),
            Self::Other("zstd"),
        ];
        all.into_iter().find(|f| f.name() == name)
    }
}

/// Tells the format from the first bytes of an image; give [`SNIFF_LEN`] bytes when the
/// image is that long (shorter input still recognises everything but ISO9660).
pub fn sniff(header: &[u8]) -> Format {
    let at = |off: usize, magic: &[u8]| header.get(off..off + magic.len()) == Some(magic);
    let known: &[(usize, &[u8], Format)] = &[
        (0, b"QFI\xfb", Format::Qcow2),
        (0, b"\x1f\x8b", Format::Gzip),
        (0, b"KDMV", Format::Other("vmdk")),
        (0, b"# Disk DescriptorFile", Format::Other("vmdk")),
        (0, b"vhdxfile", Format::Other("vhdx")),
        (0, b"conectix", Format::Other("vhd")),
        (0x40, b"\x7f\x10\xda\xbe", Format::Other("vdi")),
        (0, b"QED\0", Format::Other("qed")),
        (0, b"LUKS\xba\xbe", Format::Other("luks")),
        (0, b"\xfd7zXZ\0", Format::Other("xz")),
        (0, b"BZh", Format::Other("bzip2")),
        (0, b"\x28\xb5\x2f\xfd", Format::Other("zstd")),
        (0x8001, b"CD001", Format::Iso),
    ];
    known
        .iter()
        .find(|(off, magic, _)| at(*off, magic))
        .map_or(Format::Raw, |(_, _, f)| *f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_by_magic() {
        assert_eq!(sniff(b"QFI\xfb\0\0\0\x03"), Format::Qcow2);
        assert_eq!(sniff(b"\x1f\x8b\x08\0"), Format::Gzip);
        assert_eq!(sniff(b"KDMV\x01\0\0\0"), Format::Other("vmdk"));
        assert_eq!(sniff(b"conectix\0\0"), Format::Other("vhd"));
        assert_eq!(sniff(b"\xeb\x63\x90"), Format::Raw);
        assert_eq!(sniff(b""), Format::Raw);
        let mut iso = vec![0u8; SNIFF_LEN];
        iso[0x8001..0x8006].copy_from_slice(b"CD001");
        assert_eq!(sniff(&iso), Format::Iso);
        assert_eq!(sniff(&iso[..0x8003]), Format::Raw);
        assert_eq!(Format::Other("vdi").name(), "vdi");
    }
}
