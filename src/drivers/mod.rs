//! Hardware abstraction: one trait per Ironic interface, the implementations (one file per
//! Ironic module: `fake.rs`, `noop.rs`, ...), hardware types as data, and the registry that
//! picks a node's implementations. Knows no SQL and serves no HTTP: drivers get a
//! `TaskContext` (the node, its ports, the configuration, where ironbox is reachable),
//! change it, and the conductor persists it. BMCs are reached through `bmc`, deploy agents
//! through `agent_client.rs`.

pub mod agent_client;
pub mod agent_inspect;
pub mod agent_rescue;
pub mod boot_iso;
pub mod boot_mode;
pub mod console;
pub mod custom_agent;
pub mod direct;
pub mod fake;
pub mod hardware_types;
pub mod ipmitool;
pub mod node_options;
pub mod noop;
pub mod poll;
pub mod pxe;
pub mod ramdisk;
pub mod redfish;
pub mod registry;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

pub use registry::{InterfaceError, Registry};

use crate::config::Config;
use crate::model::node::Node;
use crate::model::port::Port;

/// The cause of a driver failure, kept whole for the log.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("{0}")]
    InvalidParameterValue(String),
    #[error("{0}")]
    MissingParameterValue(String),
    #[error("Driver {driver} does not support {kind} (disabled or not implemented).")]
    Unsupported { driver: String, kind: String },
    /// The hardware or the agent answered with a failure.
    #[error("{0}")]
    Failed(String),
    /// A client (BMC, agent, HTTP, serialisation) failed: its message is what users see,
    /// and it stays the source.
    #[error(transparent)]
    Client(Cause),
    /// An image could not be fetched, checked or converted for serving.
    #[error("Image {image} could not be prepared: {source}")]
    Image {
        image: String,
        #[source]
        source: Cause,
    },
    #[error("{0}")]
    Timeout(String),
}

impl DriverError {
    /// A client's own error as the failure, source kept.
    pub fn client(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        DriverError::Client(Box::new(e))
    }
}

/// What a driver works on: the node (which it may change; the conductor saves it), its
/// ports and the configuration.
pub struct TaskContext<'a> {
    pub node: &'a mut Node,
    pub ports: &'a [Port],
    pub config: &'a Config,
    /// A BIOS change a step made, for the conductor to record (drivers have no store).
    pub bios_update: Option<BiosUpdate>,
    /// Firmware components read from the hardware, for the conductor to record.
    pub firmware_update: Option<Vec<crate::model::firmware::Component>>,
    /// What an out-of-band inspection found, for the conductor to store.
    pub discovered: Discovered,
    pub urls: Urls,
    /// The appliance's image cache (absent in unit tests).
    pub images: Option<Arc<crate::image::cache::ImageCache>>,
}

/// Where the machines being provisioned reach ironbox.
#[derive(Debug, Clone, Default)]
pub struct Urls {
    /// The agents' API (`ipa-api-url`): the boot network's HTTP server, else
    /// `[api] public_endpoint`, else the API's own address.
    pub agent_api: Option<String>,
    /// The boot network's HTTP server, which serves cached images (none without one).
    pub boot_http: Option<String>,
    /// The API (and web UI) base URL: `[api] public_endpoint`, else the API's own address.
    pub api: Option<String>,
}

impl<'a> TaskContext<'a> {
    pub fn new(node: &'a mut Node, ports: &'a [Port], config: &'a Config) -> Self {
        TaskContext {
            node,
            ports,
            config,
            bios_update: None,
            firmware_update: None,
            discovered: Discovered::default(),
            urls: Urls::default(),
            images: None,
        }
    }
}

pub use crate::model::bios::BiosUpdate;

/// What an inspection found (drivers have no store; the conductor saves it).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Discovered {
    /// An inventory in the agent's shape, served at `/v1/nodes/{id}/inventory`.
    pub inventory: Option<serde_json::Value>,
    /// Whatever else an agent reported (served beside the inventory).
    pub plugin_data: Option<serde_json::Value>,
    /// MACs of the enabled NICs: the conductor makes ports for those the node lacks.
    pub macs: Vec<String>,
}

/// Outcome of a deploy, clean, service or inspect action.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// Finished now.
    Done,
    /// Continues asynchronously (agent callback); the node waits in a `*wait` state.
    Wait,
    /// A step asked to pause (`*hold` state) until `unhold`.
    Hold,
}

/// A deploy/clean/service step as Ironic describes it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Step {
    pub interface: String,
    pub step: String,
    #[serde(default)]
    pub args: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    pub priority: i64,
    #[serde(default)]
    pub abortable: bool,
}

/// Steps the conductor runs itself on any interface (Ironic's reserved step names).
pub const RESERVED_STEPS: &[&str] = &["hold", "wait", "power_on", "power_off", "reboot"];

impl Step {
    pub fn reserved(&self) -> bool {
        RESERVED_STEPS.contains(&self.step.as_str())
    }
}

pub use crate::model::states::POWER_TARGETS;
pub use crate::model::validate::Validation;

#[async_trait]
pub trait PowerInterface: Send + Sync {
    async fn validate(&self, ctx: &TaskContext<'_>) -> Result<(), DriverError>;
    /// `power on` or `power off`.
    async fn get_power_state(&self, ctx: &mut TaskContext<'_>) -> Result<String, DriverError>;
    /// `target` is `power on`, `power off`, `soft power off`.
    async fn set_power_state(
        &self,
        ctx: &mut TaskContext<'_>,
        target: &str,
        timeout: Option<Duration>,
    ) -> Result<(), DriverError>;
    /// `soft` for a graceful reboot.
    async fn reboot(
        &self,
        ctx: &mut TaskContext<'_>,
        soft: bool,
        timeout: Option<Duration>,
    ) -> Result<(), DriverError>;
    fn supported_power_states(&self) -> Vec<&'static str> {
        POWER_TARGETS.to_vec()
    }
}

#[async_trait]
pub trait ManagementInterface: Send + Sync {
    async fn validate(&self, ctx: &TaskContext<'_>) -> Result<(), DriverError>;
    fn supported_boot_devices(&self, ctx: &TaskContext<'_>) -> Vec<&'static str>;
    async fn set_boot_device(
        &self,
        ctx: &mut TaskContext<'_>,
        device: &str,
        persistent: bool,
    ) -> Result<(), DriverError>;
    /// (device or None when unknown, persistent or None when unknown)
    async fn get_boot_device(
        &self,
        ctx: &mut TaskContext<'_>,
    ) -> Result<(Option<String>, Option<bool>), DriverError>;
    async fn inject_nmi(&self, ctx: &mut TaskContext<'_>) -> Result<(), DriverError>;
    async fn set_boot_mode(&self, ctx: &mut TaskContext<'_>, mode: &str)
        -> Result<(), DriverError>;
    async fn set_secure_boot(&self, ctx: &mut TaskContext<'_>, on: bool)
        -> Result<(), DriverError>;
    /// The hardware's overall health as the BMC reports it (Ironic's health_states: `OK`,
    /// `Warning`, `Critical`), None when it reports none. The power sync records it.
    async fn get_node_health(
        &self,
        ctx: &mut TaskContext<'_>,
    ) -> Result<Option<&'static str>, DriverError> {
        Err(unsupported(ctx, "get_node_health"))
    }
    /// Whether the vmedia calls below are implemented (Ironic's base class refuses them).
    fn supports_virtual_media(&self) -> bool {
        false
    }
    /// Every virtual media device of the machine and what it holds.
    async fn get_virtual_media(
        &self,
        ctx: &mut TaskContext<'_>,
    ) -> Result<Vec<VmediaStatus>, DriverError> {
        Err(unsupported(ctx, "get_virtual_media"))
    }
    /// Insert the image at `url` into a device of type `device`.
    async fn attach_virtual_media(
        &self,
        ctx: &mut TaskContext<'_>,
        device: VmediaDevice,
        url: &str,
    ) -> Result<(), DriverError> {
        let _ = (device, url);
        Err(unsupported(ctx, "attach_virtual_media"))
    }
    /// Eject the devices of these types (None: every device).
    async fn detach_virtual_media(
        &self,
        ctx: &mut TaskContext<'_>,
        devices: Option<&[VmediaDevice]>,
    ) -> Result<(), DriverError> {
        let _ = devices;
        Err(unsupported(ctx, "detach_virtual_media"))
    }
    /// The indicators (LEDs) the hardware has (Ironic's `get_supported_indicators`).
    async fn get_supported_indicators(
        &self,
        ctx: &mut TaskContext<'_>,
    ) -> Result<Vec<Indicator>, DriverError> {
        Err(unsupported(ctx, "get_supported_indicators"))
    }
    /// The state of one of the indicators `get_supported_indicators` gave.
    async fn get_indicator_state(
        &self,
        ctx: &mut TaskContext<'_>,
        indicator: &Indicator,
    ) -> Result<&'static str, DriverError> {
        let _ = indicator;
        Err(unsupported(ctx, "get_indicator_state"))
    }
    /// Set a writable indicator to one of its `states` (the conductor has checked both).
    async fn set_indicator_state(
        &self,
        ctx: &mut TaskContext<'_>,
        indicator: &Indicator,
        state: &'static str,
    ) -> Result<(), DriverError> {
        let _ = (indicator, state);
        Err(unsupported(ctx, "set_indicator_state"))
    }
}

/// Ironic's UnsupportedDriverExtension for `extension` on this node's driver.
pub fn unsupported(ctx: &TaskContext<'_>, extension: &str) -> DriverError {
    DriverError::Unsupported {
        driver: ctx.node.driver.clone(),
        kind: extension.to_string(),
    }
}

pub use crate::model::indicator::Indicator;
pub use crate::model::vmedia::{VmediaDevice, VmediaStatus};

/// Interfaces whose whole contract here is validate + steps (boot, deploy, inspect, raid,
/// bios, firmware, vendor, storage, network, rescue, console): the generic part.
#[async_trait]
pub trait StepInterface: Send + Sync {
    async fn validate(&self, ctx: &TaskContext<'_>) -> Result<(), DriverError>;
    /// Steps this interface offers for automated cleaning (priority > 0 runs by default).
    fn clean_steps(&self) -> Vec<Step> {
        vec![]
    }
    /// Steps this interface offers for deployment.
    fn deploy_steps(&self) -> Vec<Step> {
        vec![]
    }
    /// Read what this interface keeps on record about the hardware into `ctx` (BIOS
    /// settings, firmware components) for the conductor to store: Ironic's
    /// cache_bios_settings / cache_firmware_components. Most interfaces keep nothing.
    async fn cache(&self, ctx: &mut TaskContext<'_>) -> Result<(), DriverError> {
        let _ = ctx;
        Ok(())
    }
    /// Run one step (clean, deploy or service).
    async fn execute_step(
        &self,
        ctx: &mut TaskContext<'_>,
        step: &Step,
    ) -> Result<Progress, DriverError> {
        let _ = ctx;
        Err(DriverError::InvalidParameterValue(format!(
            "Unknown step {}.{}",
            step.interface, step.step
        )))
    }
}

/// Network boot preparation: what the node boots next, as a BootIntent on the node.
#[async_trait]
pub trait BootInterface: StepInterface {
    /// Boot a ramdisk (deploy, rescue, inspection, or a ramdisk instance) next.
    async fn prepare_ramdisk(
        &self,
        ctx: &mut TaskContext<'_>,
        intent: crate::model::boot::BootIntent,
    ) -> Result<(), DriverError>;
    /// Nothing to boot from the network any more.
    async fn clean_up_ramdisk(&self, ctx: &mut TaskContext<'_>) -> Result<(), DriverError>;
    /// Boot the deployed instance next (local disk).
    async fn prepare_instance(&self, ctx: &mut TaskContext<'_>) -> Result<(), DriverError>;
    async fn clean_up_instance(&self, ctx: &mut TaskContext<'_>) -> Result<(), DriverError>;
    /// Whether the ramdisk is booted from the network, so the caller sets the next boot
    /// device to PXE; a virtual media boot chose its device (the CD) in prepare_ramdisk.
    fn ramdisk_from_network(&self) -> bool {
        true
    }
}

/// Deploy interfaces get the node's whole driver (`hw`) to orchestrate boot, management
/// and power, as Ironic's deploy interfaces use `task.driver`.
#[async_trait]
pub trait DeployInterface: StepInterface {
    /// The `deploy.deploy` step. Done, or Wait for an agent callback.
    async fn deploy(&self, hw: &Driver, ctx: &mut TaskContext<'_>)
        -> Result<Progress, DriverError>;
    async fn tear_down(&self, hw: &Driver, ctx: &mut TaskContext<'_>) -> Result<(), DriverError>;
    /// Take over an already deployed node (adoption).
    async fn take_over(&self, hw: &Driver, ctx: &mut TaskContext<'_>) -> Result<(), DriverError>;
    /// Run one of this interface's deploy or clean steps, with the whole driver at hand.
    async fn run_step(
        &self,
        hw: &Driver,
        ctx: &mut TaskContext<'_>,
        step: &Step,
    ) -> Result<Progress, DriverError> {
        if step.step == "deploy" {
            self.deploy(hw, ctx).await
        } else {
            self.execute_step(ctx, step).await
        }
    }
    /// Get ready to run the clean `steps` (boot an agent if a step needs one): Done, or
    /// Wait for the agent's first heartbeat.
    async fn prepare_cleaning(
        &self,
        hw: &Driver,
        ctx: &mut TaskContext<'_>,
        steps: &[Step],
    ) -> Result<Progress, DriverError> {
        let _ = (hw, ctx, steps);
        Ok(Progress::Done)
    }
    /// Whether a user deploy step this interface does not list may still come from the
    /// agent once it is up (Ironic's `custom-agent`): checked then, not at the request.
    fn defers_unknown_steps(&self) -> bool {
        false
    }
    /// Cleaning is over: undo `prepare_cleaning`.
    async fn tear_down_cleaning(
        &self,
        hw: &Driver,
        ctx: &mut TaskContext<'_>,
    ) -> Result<(), DriverError> {
        let _ = (hw, ctx);
        Ok(())
    }
    /// An agent heartbeat while the node waits. Done: the parked step has finished (carry
    /// on with the plan); Wait: still running; Err: it failed.
    async fn heartbeat(
        &self,
        hw: &Driver,
        ctx: &mut TaskContext<'_>,
    ) -> Result<Progress, DriverError> {
        let _ = (hw, ctx);
        Ok(Progress::Done)
    }
}

#[async_trait]
pub trait InspectInterface: StepInterface {
    async fn inspect_hardware(&self, ctx: &mut TaskContext<'_>) -> Result<Progress, DriverError>;
    /// Start inspecting with the whole driver at hand (in-band inspection boots an agent):
    /// Done, or Wait for the agent's inspection data.
    async fn start_inspection(
        &self,
        hw: &Driver,
        ctx: &mut TaskContext<'_>,
    ) -> Result<Progress, DriverError> {
        let _ = hw;
        self.inspect_hardware(ctx).await
    }
    /// The inspection data has arrived and been stored: undo `start_inspection`.
    async fn finish_inspection(
        &self,
        hw: &Driver,
        ctx: &mut TaskContext<'_>,
    ) -> Result<(), DriverError> {
        let _ = (hw, ctx);
        Ok(())
    }
}

/// Rescue interfaces get the node's whole driver (`hw`), as deploy interfaces do: the
/// agent's boots a ramdisk and power-cycles.
#[async_trait]
pub trait RescueInterface: StepInterface {
    /// Done (rescued at once), or Wait for the rescue ramdisk's agent.
    async fn rescue(&self, hw: &Driver, ctx: &mut TaskContext<'_>)
        -> Result<Progress, DriverError>;
    async fn unrescue(&self, hw: &Driver, ctx: &mut TaskContext<'_>) -> Result<(), DriverError>;
    /// The rescue ramdisk's agent called in (`rescue wait`): hand it the password and
    /// finish. Interfaces that never wait have nothing to do.
    async fn finalize(&self, hw: &Driver, ctx: &mut TaskContext<'_>) -> Result<(), DriverError> {
        let _ = (hw, ctx);
        Ok(())
    }
    /// Undo `rescue` after a timeout, a failure or an abort (Ironic's `clean_up`).
    async fn clean_up(&self, hw: &Driver, ctx: &mut TaskContext<'_>) -> Result<(), DriverError> {
        let _ = (hw, ctx);
        Ok(())
    }
}

/// A serial console. The conductor runs the sessions (`conductor::console`); the interface
/// checks driver_info and says how to reach the machine's console.
pub trait ConsoleInterface: StepInterface {
    /// What opens this node's console stream; refuses (as validate does) when it cannot.
    fn source(&self, ctx: &TaskContext<'_>)
        -> Result<Arc<dyn console::ConsoleSource>, DriverError>;
    /// `{"type": ..., "url": ...}` of an enabled console served at `at`.
    fn console_info(
        &self,
        ctx: &TaskContext<'_>,
        at: &console::ConsoleEndpoint,
    ) -> serde_json::Value;
}

/// A vendor passthru method.
pub struct VendorMethod {
    pub name: &'static str,
    pub http_methods: &'static [&'static str],
    pub is_async: bool,
    pub description: &'static str,
}

#[async_trait]
pub trait VendorInterface: StepInterface {
    fn methods(&self) -> Vec<VendorMethod> {
        vec![]
    }
    async fn call(
        &self,
        ctx: &mut TaskContext<'_>,
        method: &str,
        args: serde_json::Value,
    ) -> Result<serde_json::Value, DriverError> {
        let _ = (ctx, args);
        Err(DriverError::InvalidParameterValue(format!(
            "Unsupported method ({method}) passed through to vendor extension."
        )))
    }
}

/// A node's resolved interfaces.
#[derive(Clone)]
pub struct Driver {
    pub name: String,
    pub power: Arc<dyn PowerInterface>,
    pub management: Arc<dyn ManagementInterface>,
    pub boot: Arc<dyn BootInterface>,
    pub deploy: Arc<dyn DeployInterface>,
    pub inspect: Arc<dyn InspectInterface>,
    pub rescue: Arc<dyn RescueInterface>,
    pub console: Arc<dyn ConsoleInterface>,
    pub vendor: Arc<dyn VendorInterface>,
    /// bios, firmware, network, raid, storage: validate + steps.
    pub others: Vec<(&'static str, Arc<dyn StepInterface>)>,
}

impl Driver {
    /// The interface of `kind` as its step-running face.
    pub fn step_interface(&self, kind: &str) -> Option<Arc<dyn StepInterface>> {
        match kind {
            "deploy" => Some(self.deploy.clone() as Arc<dyn StepInterface>),
            "boot" => Some(self.boot.clone() as Arc<dyn StepInterface>),
            "inspect" => Some(self.inspect.clone() as Arc<dyn StepInterface>),
            "rescue" => Some(self.rescue.clone() as Arc<dyn StepInterface>),
            "console" => Some(self.console.clone() as Arc<dyn StepInterface>),
            "vendor" => Some(self.vendor.clone() as Arc<dyn StepInterface>),
            other => self
                .others
                .iter()
                .find(|(k, _)| *k == other)
                .map(|(_, i)| i.clone()),
        }
    }

    /// Each interface's validate, in the order Ironic reports them (vendor is not listed).
    pub async fn validate_all(&self, ctx: &TaskContext<'_>) -> Vec<(&'static str, Validation)> {
        let mut out = vec![];
        for kind in [
            "boot",
            "deploy",
            "management",
            "network",
            "power",
            "bios",
            "console",
            "firmware",
            "inspect",
            "raid",
            "rescue",
            "storage",
        ] {
            let r = match kind {
                "power" => self.power.validate(ctx).await,
                "management" => self.management.validate(ctx).await,
                k => match self.step_interface(k) {
                    Some(i) => i.validate(ctx).await,
                    None => Err(DriverError::Unsupported {
                        driver: self.name.clone(),
                        kind: k.into(),
                    }),
                },
            };
            out.push((
                kind,
                match r {
                    Ok(()) => Validation {
                        ok: true,
                        reason: None,
                    },
                    Err(e) => Validation {
                        ok: false,
                        reason: Some(e.to_string()),
                    },
                },
            ));
        }
        out
    }
}

/// `driver_info` keys a hardware type understands, with help text (`/drivers/X/properties`).
pub fn properties(hardware_type: &str) -> Vec<(&'static str, &'static str)> {
    match hardware_type {
        // The fake vendor interface's two made-up parameters, as Ironic reports them.
        "fake-hardware" => vec![
            ("B1", "B1 description. Required."),
            ("B2", "B2 description. Required."),
        ],
        "ipmi" => ipmitool::PROPERTIES.to_vec(),
        "redfish" => redfish::PROPERTIES.to_vec(),
        _ => vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::DriverError;
    use crate::image::ImageError;
    use std::error::Error;

    fn read_failed() -> ImageError {
        ImageError::Read(std::io::Error::other("connection reset"))
    }

    #[test]
    fn a_clients_error_reads_as_before_and_keeps_its_chain() {
        let e = DriverError::client(read_failed());
        assert_eq!(e.to_string(), "reading the image failed: connection reset");
        let cause = e.source().map(ToString::to_string);
        assert_eq!(cause.as_deref(), Some("connection reset"));
        assert!(matches!(e, DriverError::Client(c) if c.is::<ImageError>()));
    }

    #[test]
    fn an_image_failure_names_the_image_and_keeps_the_cause() {
        let e = DriverError::Image {
            image: "http://x/img".into(),
            source: Box::new(read_failed()),
        };
        assert_eq!(
            e.to_string(),
            "Image http://x/img could not be prepared: reading the image failed: connection reset"
        );
        assert!(e.source().is_some_and(|s| s.is::<ImageError>()));
    }
}
