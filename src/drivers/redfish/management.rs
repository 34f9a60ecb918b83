//! The `redfish` management interface (Ironic's redfish/management.py): the boot
//! override (device, persistence, boot mode), the boot mode itself, secure boot, NMI, the
//! system's health, virtual media (in `vmedia.rs`) and the indicator LEDs of the system and
//! its chassis.

use async_trait::async_trait;
use serde_json::{json, Value};

use super::power::reset;
use super::*;
use crate::bmc::redfish::member_links;
use crate::model::indicator::{self, Indicator};

/// Ironic boot device → BootSourceOverrideTarget.
pub fn boot_target(device: &str) -> Option<&'static str> {
    match device {
        "pxe" => Some("Pxe"),
        "disk" => Some("Hdd"),
        "cdrom" => Some("Cd"),
        "bios" => Some("BiosSetup"),
        _ => None,
    }
}

/// BootSourceOverrideTarget → Ironic boot device (None for targets Ironic has no name for).
pub fn boot_device(target: &str) -> Option<&'static str> {
    match target {
        "Pxe" => Some("pxe"),
        "Hdd" => Some("disk"),
        "Cd" => Some("cdrom"),
        "BiosSetup" => Some("bios"),
        _ => None,
    }
}

/// Ironic boot mode → BootSourceOverrideMode.
pub fn boot_mode_value(mode: &str) -> Option<&'static str> {
    match mode {
        "uefi" => Some("UEFI"),
        "bios" => Some("Legacy"),
        _ => None,
    }
}

/// The node's boot mode: its boot_mode field, else its `boot_mode` capability.
fn node_boot_mode(ctx: &TaskContext<'_>) -> Option<String> {
    if let Some(m) = ctx.node.boot_mode.as_deref().filter(|m| !m.is_empty()) {
        return Some(m.to_string());
    }
    super::boot_mode::capability(ctx.node.properties.get("capabilities"), "boot_mode")
}

/// Where a persistent boot device the BMC refused is remembered, to be set again (once)
/// before each power on (Ironic's key).
const RESTORE_KEY: &str = "redfish_boot_device";

/// Set the boot device. A BMC that refuses Continuous (Redfish deprecated it; some
/// vendors dropped it) gets Once, and the device is set again before every power on, as
/// Ironic does.
pub(super) async fn set_boot(
    ctx: &mut TaskContext<'_>,
    c: &Client,
    device: &str,
    persistent: bool,
) -> Result<(), DriverError> {
    ctx.node.driver_internal_info.remove(RESTORE_KEY);
    match patch_boot(ctx, c, device, persistent).await? {
        Err(e)
            if persistent
                && e.status()
                    .is_some_and(|s| (400..500).contains(&s) && s != 401) =>
        {
            tracing::warn!(node = %ctx.node.uuid, %device, error = %e,
                "the BMC refused a persistent boot device; using one-time boot, restored before each power on");
            patch_boot(ctx, c, device, false).await?.map_err(bmc_err)?;
            ctx.node
                .driver_internal_info
                .insert(RESTORE_KEY.into(), json!(device));
            Ok(())
        }
        other => other.map_err(bmc_err),
    }
}

/// Before a power on: set the remembered boot device again, once. A failure is only
/// logged: the machine then boots from its configured order (Ironic's choice).
pub(super) async fn restore_boot(ctx: &TaskContext<'_>, c: &Client) {
    let Some(device) = ctx
        .node
        .driver_internal_info
        .get(RESTORE_KEY)
        .and_then(Value::as_str)
        .map(str::to_string)
    else {
        return;
    };
    let r = match patch_boot(ctx, c, &device, false).await {
        Ok(r) => r.map_err(bmc_err),
        Err(e) => Err(e),
    };
    if let Err(e) = r {
        tracing::warn!(node = %ctx.node.uuid, %device, error = %e, "could not restore the boot device");
    }
}

/// PATCH the boot override: target, Once/Continuous, and the node's boot mode when the
/// system reports one (some BMCs reset it to Legacy when the device changes). The outer
/// error: the request could not be made; the inner: the BMC's answer to the PATCH.
async fn patch_boot(
    ctx: &TaskContext<'_>,
    c: &Client,
    device: &str,
    persistent: bool,
) -> Result<Result<(), RedfishError>, DriverError> {
    let target = boot_target(device).ok_or_else(|| {
        DriverError::InvalidParameterValue(format!("Invalid boot device {device} specified."))
    })?;
    let (path, sys) = system(c).await?;
    if let Some(allowed) = sys
        .pointer("/Boot/BootSourceOverrideTarget@Redfish.AllowableValues")
        .and_then(Value::as_array)
    {
        if !allowed.iter().any(|a| a.as_str() == Some(target)) {
            return Err(DriverError::InvalidParameterValue(format!(
                "The BMC does not offer boot device {device} (BootSourceOverrideTarget {target}); it allows {}",
                allowed
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    let mut boot = json!({
        "BootSourceOverrideTarget": target,
        "BootSourceOverrideEnabled": if persistent { "Continuous" } else { "Once" },
    });
    if sys
        .pointer("/Boot/BootSourceOverrideMode")
        .is_some_and(Value::is_string)
    {
        if let (Some(mode), Some(b)) = (
            node_boot_mode(ctx).as_deref().and_then(boot_mode_value),
            boot.as_object_mut(),
        ) {
            b.insert("BootSourceOverrideMode".into(), json!(mode));
        }
    }
    let body = json!({ "Boot": boot });
    let set = c.patch(&path, &body);
    Ok(crate::metrics::bmc_timed("redfish", "set_boot_device", set).await)
}

pub struct RedfishManagement;

#[async_trait]
impl ManagementInterface for RedfishManagement {
    async fn validate(&self, ctx: &TaskContext<'_>) -> Result<(), DriverError> {
        endpoint(ctx).map(|_| ())
    }
    fn supported_boot_devices(&self, _: &TaskContext<'_>) -> Vec<&'static str> {
        vec!["pxe", "disk", "cdrom", "bios"]
    }
    async fn set_boot_device(
        &self,
        ctx: &mut TaskContext<'_>,
        device: &str,
        persistent: bool,
    ) -> Result<(), DriverError> {
        if boot_target(device).is_none() {
            return Err(DriverError::InvalidParameterValue(format!(
                "Invalid boot device {device} specified."
            )));
        }
        let persistent =
            crate::drivers::node_options::boot_device_persistence(ctx.node, persistent)?;
        let c = client(ctx)?;
        set_boot(ctx, &c, device, persistent).await
    }
    async fn get_boot_device(
        &self,
        ctx: &mut TaskContext<'_>,
    ) -> Result<(Option<String>, Option<bool>), DriverError> {
        let c = client(ctx)?;
        let (_, sys) = system(&c).await?;
        let boot = field(&sys, "Boot");
        let device = boot["BootSourceOverrideTarget"]
            .as_str()
            .and_then(boot_device)
            .map(str::to_string);
        let persistent = match boot["BootSourceOverrideEnabled"].as_str() {
            Some("Continuous") => Some(true),
            Some("Once") => Some(false),
            _ => None,
        };
        Ok((device, persistent))
    }
    async fn inject_nmi(&self, ctx: &mut TaskContext<'_>) -> Result<(), DriverError> {
        let c = client(ctx)?;
        let (path, sys) = system(&c).await?;
        reset(&c, &path, &sys, "Nmi").await
    }
    async fn set_boot_mode(
        &self,
        ctx: &mut TaskContext<'_>,
        mode: &str,
    ) -> Result<(), DriverError> {
        let value = boot_mode_value(mode).ok_or_else(|| {
            DriverError::InvalidParameterValue(format!(
                "Invalid boot mode {mode}; expected uefi or bios"
            ))
        })?;
        let c = client(ctx)?;
        let (path, sys) = system(&c).await?;
        // Ironic: a system that does not report a mode cannot have one set.
        if !sys
            .pointer("/Boot/BootSourceOverrideMode")
            .is_some_and(Value::is_string)
        {
            return Err(DriverError::Unsupported {
                driver: ctx.node.driver.clone(),
                kind: "setting the boot mode (the BMC reports no BootSourceOverrideMode)".into(),
            });
        }
        let body = json!({"Boot": {"BootSourceOverrideMode": value}});
        let set = c.patch(&path, &body);
        crate::metrics::bmc_timed("redfish", "set_boot_mode", set)
            .await
            .map_err(bmc_err)?;
        ctx.node.boot_mode = Some(mode.to_string());
        Ok(())
    }
    async fn set_secure_boot(
        &self,
        ctx: &mut TaskContext<'_>,
        on: bool,
    ) -> Result<(), DriverError> {
        let c = client(ctx)?;
        let (_, sys) = system(&c).await?;
        let Some(path) = sys.pointer("/SecureBoot/@odata.id").and_then(Value::as_str) else {
            return Err(DriverError::Unsupported {
                driver: ctx.node.driver.clone(),
                kind: "secure boot (the BMC has no SecureBoot resource)".into(),
            });
        };
        let body = json!({ "SecureBootEnable": on });
        let set = c.patch(path, &body);
        crate::metrics::bmc_timed("redfish", "set_secure_boot", set)
            .await
            .map_err(bmc_err)?;
        ctx.node.secure_boot = Some(on);
        Ok(())
    }
    /// The ComputerSystem's Status.Health (Ironic's redfish get_node_health).
    async fn get_node_health(
        &self,
        ctx: &mut TaskContext<'_>,
    ) -> Result<Option<&'static str>, DriverError> {
        let c = client(ctx)?;
        let (_, sys) = system(&c).await?;
        Ok(
            match sys.pointer("/Status/Health").and_then(Value::as_str) {
                Some("OK") => Some("OK"),
                Some("Warning") => Some("Warning"),
                Some("Critical") => Some("Critical"),
                _ => None,
            },
        )
    }
    fn supports_virtual_media(&self) -> bool {
        true
    }
    async fn get_virtual_media(
        &self,
        ctx: &mut TaskContext<'_>,
    ) -> Result<Vec<VmediaStatus>, DriverError> {
        super::vmedia::get(ctx).await
    }
    async fn attach_virtual_media(
        &self,
        ctx: &mut TaskContext<'_>,
        device: VmediaDevice,
        url: &str,
    ) -> Result<(), DriverError> {
        super::vmedia::insert(ctx, device, url).await
    }
    async fn detach_virtual_media(
        &self,
        ctx: &mut TaskContext<'_>,
        devices: Option<&[VmediaDevice]>,
    ) -> Result<(), DriverError> {
        super::vmedia::eject_types(ctx, devices).await
    }
    async fn get_supported_indicators(
        &self,
        ctx: &mut TaskContext<'_>,
    ) -> Result<Vec<Indicator>, DriverError> {
        let c = client(ctx)?;
        Ok(leds(&c).await?.into_iter().map(|(i, ..)| i).collect())
    }
    async fn get_indicator_state(
        &self,
        ctx: &mut TaskContext<'_>,
        want: &Indicator,
    ) -> Result<&'static str, DriverError> {
        let c = client(ctx)?;
        let (_, v, led) = find_led(ctx, &c, want).await?;
        Ok(led.read(&v))
    }
    async fn set_indicator_state(
        &self,
        ctx: &mut TaskContext<'_>,
        want: &Indicator,
        state: &'static str,
    ) -> Result<(), DriverError> {
        let c = client(ctx)?;
        let (path, _, led) = find_led(ctx, &c, want).await?;
        let body = led.patch(state);
        let set = c.patch(&path, &body);
        crate::metrics::bmc_timed("redfish", "set_indicator_state", set)
            .await
            .map_err(bmc_err)
    }
}

/// How a Redfish resource shows its LED: `IndicatorLED` (Lit/Off/Blinking, what Ironic
/// reads), or, on BMCs that dropped that deprecated property, `LocationIndicatorActive`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Led {
    IndicatorLed,
    LocationActive,
}

impl Led {
    fn of(resource: &Value) -> Option<Led> {
        if resource.get("IndicatorLED").is_some_and(Value::is_string) {
            Some(Led::IndicatorLed)
        } else if resource
            .get("LocationIndicatorActive")
            .is_some_and(Value::is_boolean)
        {
            Some(Led::LocationActive)
        } else {
            None
        }
    }

    fn states(self) -> Vec<&'static str> {
        match self {
            Led::IndicatorLed => vec![indicator::BLINKING, indicator::OFF, indicator::ON],
            Led::LocationActive => vec![indicator::OFF, indicator::ON],
        }
    }

    fn read(self, resource: &Value) -> &'static str {
        match (
            self,
            resource.get("IndicatorLED"),
            resource.get("LocationIndicatorActive"),
        ) {
            (Led::IndicatorLed, Some(Value::String(s)), _) => match s.as_str() {
                "Lit" => indicator::ON,
                "Off" => indicator::OFF,
                "Blinking" => indicator::BLINKING,
                _ => indicator::UNKNOWN,
            },
            (Led::LocationActive, _, Some(Value::Bool(on))) => {
                if *on {
                    indicator::ON
                } else {
                    indicator::OFF
                }
            }
            _ => indicator::UNKNOWN,
        }
    }

    fn patch(self, state: &str) -> Value {
        match self {
            Led::IndicatorLed => {
                let v = match state {
                    indicator::ON => "Lit",
                    indicator::BLINKING => "Blinking",
                    _ => "Off",
                };
                json!({ "IndicatorLED": v })
            }
            Led::LocationActive => json!({ "LocationIndicatorActive": state == indicator::ON }),
        }
    }
}

/// A resource's indicator id: its UUID as Ironic uses, else its Id.
fn led_id(resource: &Value) -> Option<String> {
    ["UUID", "Id"]
        .iter()
        .find_map(|k| resource.get(*k).and_then(Value::as_str))
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Every LED: the system's, then each chassis' it links to (a chassis that cannot be read
/// is left out, as Ironic does). (indicator, resource path, resource JSON, kind) each.
async fn leds(c: &Client) -> Result<Vec<(Indicator, String, Value, Led)>, DriverError> {
    let (path, sys) = system(c).await?;
    let mut found = vec![(indicator::SYSTEM, path, sys.clone())];
    for link in member_links(sys.pointer("/Links/Chassis").unwrap_or(&Value::Null)) {
        match c.get(&link).await {
            Ok(v) => found.push((indicator::CHASSIS, link, v)),
            Err(e) => {
                tracing::debug!(chassis = %link, error = %e, "chassis indicator not available")
            }
        }
    }
    Ok(found
        .into_iter()
        .filter_map(|(component, path, v)| {
            let led = Led::of(&v)?;
            let ind = Indicator {
                component: component.into(),
                name: led_id(&v)?,
                readonly: false,
                states: led.states(),
            };
            Some((ind, path, v, led))
        })
        .collect())
}

async fn find_led(
    ctx: &TaskContext<'_>,
    c: &Client,
    want: &Indicator,
) -> Result<(String, Value, Led), DriverError> {
    leds(c)
        .await?
        .into_iter()
        .find(|(i, ..)| i.component == want.component && i.name == want.name)
        .map(|(_, path, v, led)| (path, v, led))
        .ok_or_else(|| {
            DriverError::MissingParameterValue(format!(
                "Unknown indicator {} for component {} of node {}",
                want.name, want.component, ctx.node.uuid
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boot_devices_map_both_ways() {
        for d in ["pxe", "disk", "cdrom", "bios"] {
            assert_eq!(boot_device(boot_target(d).unwrap()), Some(d));
        }
        assert_eq!(boot_target("safe"), None);
        assert_eq!(boot_target("floppy"), None);
        assert_eq!(boot_device("UefiHttp"), None);
        assert_eq!(boot_mode_value("uefi"), Some("UEFI"));
        assert_eq!(boot_mode_value("bios"), Some("Legacy"));
        assert_eq!(boot_mode_value("other"), None);
    }

    #[test]
    fn leds_read_and_patch_both_kinds() {
        let lit = json!({"IndicatorLED": "Blinking", "LocationIndicatorActive": false});
        assert_eq!(Led::of(&lit), Some(Led::IndicatorLed), "IndicatorLED first");
        assert_eq!(Led::IndicatorLed.read(&lit), indicator::BLINKING);
        assert_eq!(
            Led::IndicatorLed.patch("on"),
            json!({"IndicatorLED": "Lit"})
        );
        let loc = json!({"LocationIndicatorActive": true});
        assert_eq!(Led::of(&loc), Some(Led::LocationActive));
        assert_eq!(Led::LocationActive.read(&loc), indicator::ON);
        assert_eq!(Led::LocationActive.states(), vec!["off", "on"]);
        assert_eq!(
            Led::LocationActive.patch("off"),
            json!({"LocationIndicatorActive": false})
        );
        assert_eq!(Led::of(&json!({"IndicatorLED": null})), None);
        assert_eq!(
            Led::IndicatorLed.read(&json!({"IndicatorLED": "Weird"})),
            "unknown"
        );
        assert_eq!(led_id(&json!({"Id": "1", "UUID": "u"})), Some("u".into()));
        assert_eq!(led_id(&json!({"Id": "1"})), Some("1".into()));
    }
}
