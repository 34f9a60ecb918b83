//! The `fake` implementation of every interface (Ironic's `modules/fake.py`): no hardware,
//! state kept on the node, and `[fake] *_delay` to make operations take time. A real
//! driver: same traits, same validation, never a shortcut around the conductor.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::{json, Value};

use super::*;
use crate::config::Delay;
use crate::model::dii::{
    FAKE_BOOT_DEVICE, FAKE_BOOT_DEVICE_PERSISTENT, FAKE_INDICATORS, FAKE_VMEDIA,
};
use crate::model::indicator::{self, Indicator};
use crate::model::states::{POWER_OFF, POWER_ON};
use crate::model::vmedia::VMEDIA_DEVICES;

async fn pause(delay: &Delay) {
    let (lo, hi) = (delay.min.as_secs_f64(), delay.max.as_secs_f64());
    let secs = if hi > lo {
        lo + rand::random::<f64>() * (hi - lo)
    } else {
        lo
    };
    if secs > 0.0 {
        tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    }
}

fn step(interface: &str, name: &str, priority: i64) -> Step {
    Step {
        interface: interface.into(),
        step: name.into(),
        args: Default::default(),
        priority,
        abortable: false,
    }
}

pub struct FakePower;

#[async_trait]
impl PowerInterface for FakePower {
    async fn validate(&self, _: &TaskContext<'_>) -> Result<(), DriverError> {
        Ok(())
    }
    async fn get_power_state(&self, ctx: &mut TaskContext<'_>) -> Result<String, DriverError> {
        pause(&ctx.config.fake.power_delay).await;
        // A fake machine that was never switched on is off.
        Ok(ctx
            .node
            .power_state
            .clone()
            .unwrap_or_else(|| POWER_OFF.into()))
    }
    async fn set_power_state(
        &self,
        ctx: &mut TaskContext<'_>,
        target: &str,
        _: Option<Duration>,
    ) -> Result<(), DriverError> {
        pause(&ctx.config.fake.power_delay).await;
        ctx.node.power_state = Some(
            if target == POWER_ON {
                POWER_ON
            } else {
                POWER_OFF
            }
            .into(),
        );
        Ok(())
    }
    async fn reboot(
        &self,
        ctx: &mut TaskContext<'_>,
        _: bool,
        _: Option<Duration>,
    ) -> Result<(), DriverError> {
        pause(&ctx.config.fake.power_delay).await;
        ctx.node.power_state = Some(POWER_ON.into());
        Ok(())
    }
}

pub struct FakeManagement;

#[async_trait]
impl ManagementInterface for FakeManagement {
    async fn validate(&self, _: &TaskContext<'_>) -> Result<(), DriverError> {
        Ok(())
    }
    /// Ironic's fake management offers PXE only.
    fn supported_boot_devices(&self, _: &TaskContext<'_>) -> Vec<&'static str> {
        vec!["pxe"]
    }
    async fn set_boot_device(
        &self,
        ctx: &mut TaskContext<'_>,
        device: &str,
        persistent: bool,
    ) -> Result<(), DriverError> {
        if !self.supported_boot_devices(ctx).contains(&device) {
            return Err(DriverError::InvalidParameterValue(format!(
                "Invalid boot device {device} specified."
            )));
        }
        pause(&ctx.config.fake.management_delay).await;
        ctx.node
            .driver_internal_info
            .insert(FAKE_BOOT_DEVICE.into(), json!(device));
        ctx.node
            .driver_internal_info
            .insert(FAKE_BOOT_DEVICE_PERSISTENT.into(), json!(persistent));
        Ok(())
    }
    async fn get_boot_device(
        &self,
        ctx: &mut TaskContext<'_>,
    ) -> Result<(Option<String>, Option<bool>), DriverError> {
        let dev = ctx
            .node
            .driver_internal_info
            .get(FAKE_BOOT_DEVICE)
            .and_then(Value::as_str)
            .unwrap_or("pxe")
            .to_string();
        let persistent = ctx
            .node
            .driver_internal_info
            .get(FAKE_BOOT_DEVICE_PERSISTENT)
            .and_then(Value::as_bool)
            .unwrap_or(false);
        Ok((Some(dev), Some(persistent)))
    }
    /// Ironic's fake management has no NMI.
    async fn inject_nmi(&self, ctx: &mut TaskContext<'_>) -> Result<(), DriverError> {
        Err(DriverError::Unsupported {
            driver: ctx.node.driver.clone(),
            kind: "inject_nmi".into(),
        })
    }
    async fn set_boot_mode(
        &self,
        ctx: &mut TaskContext<'_>,
        mode: &str,
    ) -> Result<(), DriverError> {
        ctx.node.boot_mode = Some(mode.to_string());
        Ok(())
    }
    async fn set_secure_boot(
        &self,
        ctx: &mut TaskContext<'_>,
        on: bool,
    ) -> Result<(), DriverError> {
        ctx.node.secure_boot = Some(on);
        Ok(())
    }
    /// ironbox's fake keeps what was inserted on the node (Ironic's fake refuses vmedia),
    /// so the vmedia API can be tried without a BMC.
    fn supports_virtual_media(&self) -> bool {
        true
    }
    /// One device per type, as a BMC with a CD, a floppy and a USB stick slot answers.
    async fn get_virtual_media(
        &self,
        ctx: &mut TaskContext<'_>,
    ) -> Result<Vec<VmediaStatus>, DriverError> {
        let held = ctx.node.driver_internal_info.get(FAKE_VMEDIA);
        Ok(VMEDIA_DEVICES
            .iter()
            .map(|d| {
                let image = held
                    .and_then(|h| h.get(d.name()))
                    .and_then(Value::as_str)
                    .map(str::to_string);
                VmediaStatus {
                    media_types: d.media_types().iter().map(|t| t.to_string()).collect(),
                    inserted: Some(image.is_some()),
                    image,
                }
            })
            .collect())
    }
    async fn attach_virtual_media(
        &self,
        ctx: &mut TaskContext<'_>,
        device: VmediaDevice,
        url: &str,
    ) -> Result<(), DriverError> {
        pause(&ctx.config.fake.management_delay).await;
        let dii = &mut ctx.node.driver_internal_info;
        let mut held = dii
            .get(FAKE_VMEDIA)
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        held.insert(device.name().into(), json!(url));
        dii.insert(FAKE_VMEDIA.into(), Value::Object(held));
        Ok(())
    }
    async fn detach_virtual_media(
        &self,
        ctx: &mut TaskContext<'_>,
        devices: Option<&[VmediaDevice]>,
    ) -> Result<(), DriverError> {
        pause(&ctx.config.fake.management_delay).await;
        let dii = &mut ctx.node.driver_internal_info;
        let Some(devices) = devices else {
            dii.remove(FAKE_VMEDIA);
            return Ok(());
        };
        if let Some(Value::Object(held)) = dii.get_mut(FAKE_VMEDIA) {
            for d in devices {
                held.remove(d.name());
            }
            if held.is_empty() {
                dii.remove(FAKE_VMEDIA);
            }
        }
        Ok(())
    }
    /// Ironic's fake indicators: a read-only chassis LED and a system LED.
    async fn get_supported_indicators(
        &self,
        ctx: &mut TaskContext<'_>,
    ) -> Result<Vec<Indicator>, DriverError> {
        pause(&ctx.config.fake.management_delay).await;
        Ok(vec![
            Indicator {
                component: indicator::CHASSIS.into(),
                name: "led-0".into(),
                readonly: true,
                states: vec![indicator::OFF, indicator::ON],
            },
            Indicator {
                component: indicator::SYSTEM.into(),
                name: "led".into(),
                readonly: false,
                states: vec![indicator::BLINKING, indicator::OFF, indicator::ON],
            },
        ])
    }
    /// `on` (Ironic's fake answer) until set otherwise.
    async fn get_indicator_state(
        &self,
        ctx: &mut TaskContext<'_>,
        led: &Indicator,
    ) -> Result<&'static str, DriverError> {
        pause(&ctx.config.fake.management_delay).await;
        let set = ctx
            .node
            .driver_internal_info
            .get(FAKE_INDICATORS)
            .and_then(|m| m.get(led.unique_name()))
            .and_then(Value::as_str)
            .and_then(indicator::settable);
        Ok(set.unwrap_or(indicator::ON))
    }
    /// Remembered on the node (Ironic's fake cannot set indicators; this one can, so
    /// clients can exercise the call without hardware).
    async fn set_indicator_state(
        &self,
        ctx: &mut TaskContext<'_>,
        led: &Indicator,
        state: &'static str,
    ) -> Result<(), DriverError> {
        pause(&ctx.config.fake.management_delay).await;
        let dii = &mut ctx.node.driver_internal_info;
        let mut states = dii
            .get(FAKE_INDICATORS)
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        states.insert(led.unique_name(), json!(state));
        dii.insert(FAKE_INDICATORS.into(), Value::Object(states));
        Ok(())
    }
}

/// Fake interfaces that only validate and run their (instant, or delayed) steps.
pub struct FakeSteps {
    pub kind: &'static str,
    pub clean: Vec<Step>,
    pub deploy: Vec<Step>,
}

impl FakeSteps {
    pub fn new(kind: &'static str) -> Self {
        let (clean, deploy) = match kind {
            // Manual steps (priority 0) so manual cleaning and servicing can be tried.
            "raid" => (
                vec![
                    step("raid", "create_configuration", 0),
                    step("raid", "delete_configuration", 0),
                ],
                vec![step("raid", "apply_configuration", 0)],
            ),
            "bios" => (
                vec![
                    step("bios", "apply_configuration", 0),
                    step("bios", "factory_reset", 0),
                ],
                vec![step("bios", "apply_configuration", 0)],
            ),
            "firmware" => (vec![step("firmware", "update", 0)], vec![]),
            "deploy" => (
                vec![
                    step("deploy", "erase_devices", 0),
                    step("deploy", "erase_devices_metadata", 0),
                ],
                vec![step("deploy", "deploy", 100)],
            ),
            _ => (vec![], vec![]),
        };
        FakeSteps {
            kind,
            clean,
            deploy,
        }
    }

    fn delay<'a>(&self, cfg: &'a crate::config::Config) -> &'a Delay {
        let f = &cfg.fake;
        match self.kind {
            "deploy" => &f.deploy_delay,
            "boot" => &f.boot_delay,
            "raid" => &f.raid_delay,
            "bios" => &f.bios_delay,
            "storage" => &f.storage_delay,
            "rescue" => &f.rescue_delay,
            "inspect" => &f.inspect_delay,
            "vendor" => &f.vendor_delay,
            _ => &f.management_delay,
        }
    }
}

#[async_trait]
impl StepInterface for FakeSteps {
    async fn validate(&self, _: &TaskContext<'_>) -> Result<(), DriverError> {
        Ok(())
    }
    fn clean_steps(&self) -> Vec<Step> {
        self.clean.clone()
    }
    fn deploy_steps(&self) -> Vec<Step> {
        self.deploy.clone()
    }
    async fn execute_step(
        &self,
        ctx: &mut TaskContext<'_>,
        s: &Step,
    ) -> Result<Progress, DriverError> {
        let known = self
            .clean
            .iter()
            .chain(self.deploy.iter())
            .any(|k| k.step == s.step);
        if !known {
            return Err(DriverError::InvalidParameterValue(format!(
                "Unknown step {}.{}",
                s.interface, s.step
            )));
        }
        pause(self.delay(ctx.config)).await;
        if self.kind == "bios" {
            ctx.bios_update = Some(match s.step.as_str() {
                "factory_reset" => BiosUpdate::Reset,
                _ => BiosUpdate::Apply(bios_settings(&s.args)?),
            });
        }
        Ok(Progress::Done)
    }
}

/// `args.settings`: `[{"name": ..., "value": ...}]`, as Ironic's bios steps take them.
fn bios_settings(
    args: &serde_json::Map<String, Value>,
) -> Result<Vec<(String, String)>, DriverError> {
    crate::model::bios::parse_settings(args).map_err(DriverError::InvalidParameterValue)
}

#[async_trait]
impl DeployInterface for FakeSteps {
    async fn deploy(&self, _: &Driver, ctx: &mut TaskContext<'_>) -> Result<Progress, DriverError> {
        pause(&ctx.config.fake.deploy_delay).await;
        Ok(Progress::Done)
    }
    async fn tear_down(&self, _: &Driver, ctx: &mut TaskContext<'_>) -> Result<(), DriverError> {
        pause(&ctx.config.fake.deploy_delay).await;
        ctx.node.power_state = Some(POWER_OFF.into());
        Ok(())
    }
    async fn take_over(&self, _: &Driver, _: &mut TaskContext<'_>) -> Result<(), DriverError> {
        Ok(())
    }
}

#[async_trait]
impl BootInterface for FakeSteps {
    async fn prepare_ramdisk(
        &self,
        ctx: &mut TaskContext<'_>,
        _: crate::model::boot::BootIntent,
    ) -> Result<(), DriverError> {
        pause(&ctx.config.fake.boot_delay).await;
        Ok(())
    }
    async fn clean_up_ramdisk(&self, _: &mut TaskContext<'_>) -> Result<(), DriverError> {
        Ok(())
    }
    async fn prepare_instance(&self, ctx: &mut TaskContext<'_>) -> Result<(), DriverError> {
        pause(&ctx.config.fake.boot_delay).await;
        Ok(())
    }
    async fn clean_up_instance(&self, _: &mut TaskContext<'_>) -> Result<(), DriverError> {
        Ok(())
    }
}

#[async_trait]
impl InspectInterface for FakeSteps {
    async fn inspect_hardware(&self, ctx: &mut TaskContext<'_>) -> Result<Progress, DriverError> {
        pause(&ctx.config.fake.inspect_delay).await;
        Ok(Progress::Done)
    }
}

#[async_trait]
impl RescueInterface for FakeSteps {
    async fn rescue(&self, _: &Driver, ctx: &mut TaskContext<'_>) -> Result<Progress, DriverError> {
        pause(&ctx.config.fake.rescue_delay).await;
        Ok(Progress::Done)
    }
    async fn unrescue(&self, _: &Driver, ctx: &mut TaskContext<'_>) -> Result<(), DriverError> {
        pause(&ctx.config.fake.rescue_delay).await;
        Ok(())
    }
}

#[async_trait]
impl VendorInterface for FakeSteps {
    fn methods(&self) -> Vec<VendorMethod> {
        vec![
            VendorMethod {
                name: "first_method",
                http_methods: &["POST"],
                is_async: false,
                description: "Echo the arguments back.",
            },
            VendorMethod {
                name: "second_method",
                http_methods: &["GET", "POST"],
                is_async: true,
                description: "Accept and do nothing.",
            },
        ]
    }
    async fn call(
        &self,
        ctx: &mut TaskContext<'_>,
        method: &str,
        args: Value,
    ) -> Result<Value, DriverError> {
        pause(&ctx.config.fake.vendor_delay).await;
        match method {
            "first_method" => Ok(json!({"args": args})),
            "second_method" => Ok(Value::Null),
            other => Err(DriverError::InvalidParameterValue(format!(
                "Unsupported method ({other}) passed through to vendor extension."
            ))),
        }
    }
}
