//! Hardware types as data: for each type, the implementations it supports per interface kind,
//! in preference order (the first enabled one is the default). Mirrors Ironic's
//! `supported_*_interfaces`; adding a vendor means adding a row, not editing the conductor.

/// (interface kind, supported implementations in preference order)
pub type Supported = &'static [(&'static str, &'static [&'static str])];

pub struct HardwareType {
    pub name: &'static str,
    pub supported: Supported,
    /// Ironic special-cases fake-hardware: any enabled implementation is accepted, the list
    /// above only picks defaults.
    pub accepts_any_enabled: bool,
}

impl HardwareType {
    pub fn supported(&self, kind: &str) -> &'static [&'static str] {
        self.supported
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or(&[], |(_, v)| v)
    }
}

pub const HARDWARE_TYPES: &[HardwareType] = &[
    HardwareType {
        name: "fake-hardware",
        accepts_any_enabled: true,
        supported: &[
            ("bios", &["fake", "no-bios"]),
            ("boot", &["fake"]),
            ("console", &["fake", "no-console"]),
            ("deploy", &["fake"]),
            ("firmware", &["fake", "no-firmware"]),
            ("inspect", &["fake", "no-inspect"]),
            ("management", &["fake"]),
            ("network", &["noop", "flat"]),
            ("power", &["fake"]),
            ("raid", &["fake", "no-raid"]),
            ("rescue", &["fake", "no-rescue", "agent"]),
            ("storage", &["noop", "fake"]),
            ("vendor", &["fake", "no-vendor"]),
        ],
    },
    // IPMI BMCs, spoken to natively over RMCP+.
    HardwareType {
        name: "ipmi",
        accepts_any_enabled: false,
        supported: &[
            ("bios", &["no-bios"]),
            ("boot", &["ipxe", "pxe", "http", "http-ipxe"]),
            ("console", &["ipmitool-socat", "no-console"]),
            ("deploy", &["direct", "ramdisk", "custom-agent"]),
            ("firmware", &["no-firmware"]),
            ("inspect", &["agent", "no-inspect"]),
            ("management", &["ipmitool", "noop"]),
            ("network", &["noop", "flat"]),
            ("power", &["ipmitool"]),
            ("raid", &["no-raid"]),
            ("rescue", &["no-rescue", "agent"]),
            ("storage", &["noop"]),
            ("vendor", &["no-vendor"]),
        ],
    },
    // Redfish BMCs (HTTPS + JSON). Boot from the network by default (ironbox serves it);
    // redfish-virtual-media boots an ISO the BMC fetches.
    HardwareType {
        name: "redfish",
        accepts_any_enabled: false,
        supported: &[
            ("bios", &["redfish", "no-bios"]),
            (
                "boot",
                &["ipxe", "pxe", "http", "http-ipxe", "redfish-virtual-media"],
            ),
            ("console", &["no-console"]),
            ("deploy", &["direct", "ramdisk", "custom-agent"]),
            ("firmware", &["redfish", "no-firmware"]),
            ("inspect", &["redfish", "agent", "no-inspect"]),
            ("management", &["redfish", "noop"]),
            ("network", &["noop", "flat"]),
            ("power", &["redfish"]),
            ("raid", &["no-raid"]),
            ("rescue", &["no-rescue", "agent"]),
            ("storage", &["noop"]),
            ("vendor", &["redfish", "no-vendor"]),
        ],
    },
    // Dell iDRAC as Metal3 names it: the `idrac-redfish*` interfaces are ironbox's Redfish
    // ones under Dell's names (no WS-Man, no OEM extensions).
    HardwareType {
        name: "idrac",
        accepts_any_enabled: false,
        supported: &[
            ("bios", &["idrac-redfish", "no-bios"]),
            (
                "boot",
                &[
                    "ipxe",
                    "pxe",
                    "http",
                    "http-ipxe",
                    "idrac-redfish-virtual-media",
                    "redfish-virtual-media",
                ],
            ),
            ("console", &["no-console"]),
            ("deploy", &["direct", "ramdisk", "custom-agent"]),
            ("firmware", &["redfish", "no-firmware"]),
            (
                "inspect",
                &["idrac-redfish", "redfish", "agent", "no-inspect"],
            ),
            ("management", &["idrac-redfish"]),
            ("network", &["noop", "flat"]),
            ("power", &["idrac-redfish"]),
            ("raid", &["no-raid"]),
            ("rescue", &["no-rescue"]),
            ("storage", &["noop"]),
            ("vendor", &["idrac-redfish", "no-vendor"]),
        ],
    },
    // Power and boot devices are handled by an operator; ironbox network-boots the node.
    HardwareType {
        name: "manual-management",
        accepts_any_enabled: false,
        supported: &[
            ("bios", &["no-bios"]),
            ("boot", &["ipxe", "pxe", "http", "http-ipxe"]),
            ("console", &["no-console"]),
            ("deploy", &["direct", "ramdisk", "custom-agent"]),
            ("firmware", &["no-firmware"]),
            ("inspect", &["agent", "no-inspect"]),
            ("management", &["noop", "fake"]),
            ("network", &["noop", "flat"]),
            ("power", &["fake"]),
            ("raid", &["no-raid"]),
            ("rescue", &["no-rescue", "agent"]),
            ("storage", &["noop"]),
            ("vendor", &["no-vendor"]),
        ],
    },
];

/// Implementations this build of ironbox actually provides, per interface kind.
/// Enabling a name not listed here is a configuration error.
pub const AVAILABLE: Supported = &[
    ("bios", &["fake", "no-bios", "redfish", "idrac-redfish"]),
    (
        "boot",
        &[
            "fake",
            "ipxe",
            "pxe",
            "http",
            "http-ipxe",
            "redfish-virtual-media",
            "idrac-redfish-virtual-media",
        ],
    ),
    ("console", &["fake", "ipmitool-socat", "no-console"]),
    ("deploy", &["fake", "direct", "ramdisk", "custom-agent"]),
    ("firmware", &["fake", "no-firmware", "redfish"]),
    (
        "inspect",
        &["agent", "fake", "no-inspect", "redfish", "idrac-redfish"],
    ),
    (
        "management",
        &["fake", "noop", "ipmitool", "redfish", "idrac-redfish"],
    ),
    ("network", &["flat", "noop"]),
    ("power", &["fake", "ipmitool", "redfish", "idrac-redfish"]),
    ("raid", &["fake", "no-raid"]),
    ("rescue", &["agent", "fake", "no-rescue"]),
    ("storage", &["fake", "noop"]),
    ("vendor", &["fake", "no-vendor", "redfish", "idrac-redfish"]),
];

pub fn find(name: &str) -> Option<&'static HardwareType> {
    HARDWARE_TYPES.iter().find(|h| h.name == name)
}
