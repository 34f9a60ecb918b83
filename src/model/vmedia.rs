//! Virtual media devices as Ironic names them (`boot_devices.VMEDIA_DEVICES`), the Redfish
//! MediaTypes each maps to, and the image URL schemes a BMC can be handed.

/// A virtual media device type of the vmedia API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VmediaDevice {
    /// A USB stick (Redfish `USBStick`).
    Disk,
    Cdrom,
    Floppy,
}

/// Ironic's order, which its error messages list.
pub const VMEDIA_DEVICES: [VmediaDevice; 3] = [
    VmediaDevice::Disk,
    VmediaDevice::Cdrom,
    VmediaDevice::Floppy,
];

/// Schemes Ironic lets `image_url` have (`image_publisher.VMEDIA_SUPPORTED_URL_SCHEMES`).
pub const URL_SCHEMES: [&str; 5] = ["http", "https", "nfs", "cifs", "smb"];

/// Schemes the BMC fetches itself: ironbox cannot download them to serve them.
pub const BMC_ONLY_SCHEMES: [&str; 3] = ["nfs", "cifs", "smb"];

/// Where the BMC gets the image (`image_download_source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DownloadSource {
    /// The URL as given.
    Http,
    /// Downloaded and served by ironbox (Ironic's default).
    Local,
    /// As `Http` here: there is no Glance, so no Swift temporary URLs.
    Swift,
}

impl DownloadSource {
    pub const NAMES: [&'static str; 3] = ["http", "local", "swift"];

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "http" => Some(Self::Http),
            "local" => Some(Self::Local),
            "swift" => Some(Self::Swift),
            _ => None,
        }
    }
}

impl VmediaDevice {
    pub fn parse(s: &str) -> Option<Self> {
        VMEDIA_DEVICES.into_iter().find(|d| d.name() == s)
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Disk => "disk",
            Self::Cdrom => "cdrom",
            Self::Floppy => "floppy",
        }
    }

    /// The Redfish MediaTypes that can take this device's image, preferred first: a CD
    /// image also goes into a DVD-only device (as Ironic allows for Cisco blades).
    pub fn media_types(self) -> &'static [&'static str] {
        match self {
            Self::Disk => &["USBStick"],
            Self::Cdrom => &["CD", "DVD"],
            Self::Floppy => &["Floppy"],
        }
    }

    /// The device a Redfish MediaType belongs to.
    pub fn of_media_type(t: &str) -> Option<Self> {
        VMEDIA_DEVICES
            .into_iter()
            .find(|d| d.media_types().contains(&t))
    }
}

/// One virtual media device as `GET /v1/nodes/{id}/vmedia` lists it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct VmediaStatus {
    pub media_types: Vec<String>,
    pub inserted: Option<bool>,
    pub image: Option<String>,
}

/// `['disk', 'cdrom', 'floppy']` as Python prints a list of names (Ironic's messages).
pub fn py_list(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("'{n}'")).collect();
    format!("[{}]", quoted.join(", "))
}

/// The scheme of `url` as Python's urlparse finds it (lower case; empty when none).
pub fn scheme(url: &str) -> String {
    match url.split_once(':') {
        Some((s, _))
            if s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')) =>
        {
            s.to_ascii_lowercase()
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_media_types_round_trip() {
        for d in VMEDIA_DEVICES {
            assert_eq!(VmediaDevice::parse(d.name()), Some(d));
            for t in d.media_types() {
                assert_eq!(VmediaDevice::of_media_type(t), Some(d));
            }
        }
        assert_eq!(VmediaDevice::parse("usb"), None);
        assert_eq!(VmediaDevice::parse("CDROM"), None);
        assert_eq!(
            py_list(&VMEDIA_DEVICES.map(VmediaDevice::name)),
            "['disk', 'cdrom', 'floppy']"
        );
    }

    #[test]
    fn schemes_are_found_as_urlparse_does() {
        assert_eq!(scheme("http://x/a.iso"), "http");
        assert_eq!(scheme("HTTPS://x"), "https");
        assert_eq!(scheme("a.iso"), "");
        assert_eq!(scheme("/abs/a.iso"), "");
        assert_eq!(scheme("ftp://x"), "ftp");
        assert_eq!(scheme("1x://y"), "");
    }
}
