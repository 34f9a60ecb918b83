//! Protocol facts as tables: which boot program each client architecture (option 93,
//! RFC 4578 / IANA "Processor Architecture Types") gets, and how clients identify
//! themselves (vendor class 60, user class 77, iPXE's option 175).

/// What kind of network boot client sent the packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client {
    /// A PXE ROM (vendor class "PXEClient") of this architecture.
    Pxe(Arch),
    /// A UEFI HTTP boot client (vendor class "HTTPClient").
    HttpBoot(Arch),
    /// iPXE itself (user class "iPXE" or option 175): give it the HTTP script.
    Ipxe,
    /// Anything else (an OS or ramdisk DHCP client such as udhcpc).
    Plain,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    BiosX86,
    EfiIa32,
    EfiX64,
    EfiArm64,
    Unknown(u16),
}

impl Arch {
    /// Option 93 value → architecture.
    pub fn from_code(code: u16) -> Arch {
        match code {
            0 => Arch::BiosX86,
            6 => Arch::EfiIa32,
            7 | 9 | 16 => Arch::EfiX64,
            11 | 19 => Arch::EfiArm64,
            other => Arch::Unknown(other),
        }
    }
}

/// How the boot program is fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetch {
    /// A file name on our TFTP server.
    Tftp(&'static str),
    /// A path on our HTTP boot server.
    Http(String),
}

/// The table: client → boot program (None = we have nothing for it).
pub fn boot_program(client: Client) -> Option<Fetch> {
    Some(match client {
        Client::Pxe(Arch::BiosX86) => Fetch::Tftp("undionly.kpxe"),
        Client::Pxe(Arch::EfiX64) => Fetch::Tftp("snponly.efi"),
        Client::Pxe(Arch::EfiIa32) => Fetch::Tftp("ipxe-i386.efi"),
        Client::Pxe(Arch::EfiArm64) => Fetch::Tftp("snponly-arm64.efi"),
        Client::HttpBoot(Arch::EfiX64) => Fetch::Http("/ipxe/snponly.efi".into()),
        Client::HttpBoot(Arch::EfiArm64) => Fetch::Http("/ipxe/snponly-arm64.efi".into()),
        Client::Ipxe => Fetch::Http("/boot.ipxe".into()),
        Client::Pxe(Arch::Unknown(_)) | Client::HttpBoot(_) | Client::Plain => return None,
    })
}

/// Files the TFTP server offers from `[pxe] ipxe_dir`, with the names Debian's `ipxe`
/// package uses where they differ (`snponly.efi` is `ipxe/snponly.efi` there; plain
/// `ipxe.efi` is served as a fallback).
pub const TFTP_FILES: &[(&str, &[&str])] = &[
    ("undionly.kpxe", &["undionly.kpxe"]),
    ("snponly.efi", &["snponly.efi", "ipxe.efi"]),
    ("ipxe.efi", &["ipxe.efi"]),
    ("ipxe-i386.efi", &["ipxe-i386.efi", "ipxe.efi"]),
    (
        "snponly-arm64.efi",
        &["snponly-arm64.efi", "ipxe-arm64.efi"],
    ),
];

use crate::model::ipxe::EMBEDDED;
pub use crate::model::ipxe::LONG_VERSION;

/// Where to get boot program `name`: a file in `ipxe_dir`, else the copy embedded at build
/// time. Only names in `TFTP_FILES` exist.
pub enum Program {
    File(std::path::PathBuf),
    Embedded(&'static [u8]),
}

pub fn find_program(ipxe_dir: &std::path::Path, name: &str) -> Option<Program> {
    let (_, candidates) = TFTP_FILES.iter().find(|(n, _)| *n == name)?;
    if let Some(p) = candidates
        .iter()
        .map(|c| ipxe_dir.join(c))
        .find(|p| p.is_file())
    {
        return Some(Program::File(p));
    }
    candidates.iter().find_map(|c| {
        EMBEDDED
            .iter()
            .find(|(n, _)| n == c)
            .map(|(_, b)| Program::Embedded(b))
    })
}
