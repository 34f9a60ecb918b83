//! The `redfish` bios interface (Ironic's redfish/bios.py): BIOS settings and the
//! attribute registry read from the system's Bios resource; `apply_configuration` checks
//! each value against the registry before asking the BMC, then resets the system and waits
//! until the BIOS reports the values; `factory_reset` is Bios.ResetBios and a reset.

use async_trait::async_trait;
use serde_json::{Map, Value};
use tokio::time::Instant;

use super::*;
use crate::model::bios::{parse_settings, value_text, BiosSetting, BiosUpdate, Registry};

pub struct RedfishBios;

fn step(name: &str) -> Step {
    Step {
        interface: "bios".into(),
        step: name.into(),
        args: Default::default(),
        priority: 0,
        abortable: false,
    }
}

/// The system's Bios resource, or Ironic's error when the system has none.
async fn bios_of(c: &Client, node: &str, what: &str) -> Result<(String, Value), DriverError> {
    let (_, sys) = system(c).await?;
    c.bios(&sys).await.map_err(bmc_err)?.ok_or_else(|| {
        DriverError::Failed(format!(
            "Redfish BIOS {what} failed for node {node}, because BIOS settings are not supported."
        ))
    })
}

/// The registry entries of `bios` by attribute name (empty when the BMC has no registry;
/// like Ironic, a missing registry is not an error).
async fn registry(c: &Client, bios: &Value) -> Map<String, Value> {
    let Some(id) = bios.get("AttributeRegistry").and_then(Value::as_str) else {
        return Map::new();
    };
    match c.attribute_registry(id).await {
        Ok(Some(reg)) => field(field(&reg, "RegistryEntries"), "Attributes")
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| {
                        let name = e.get("AttributeName").and_then(Value::as_str)?;
                        Some((name.to_string(), e.clone()))
                    })
                    .collect()
            })
            .unwrap_or_default(),
        Ok(None) => Map::new(),
        Err(e) => {
            tracing::info!(error = %e, "cannot read the BIOS attribute registry");
            Map::new()
        }
    }
}

/// The settings now in the BIOS, with what the registry says of each.
async fn read_settings(c: &Client, node: &str) -> Result<Vec<BiosSetting>, DriverError> {
    let (_, bios) = bios_of(c, node, "settings").await?;
    let reg = registry(c, &bios).await;
    let attrs = field(&bios, "Attributes")
        .as_object()
        .cloned()
        .unwrap_or_default();
    Ok(attrs
        .iter()
        .map(|(name, v)| BiosSetting {
            name: name.clone(),
            value: value_text(v),
            registry: reg
                .get(name)
                .map(Registry::from_redfish)
                .unwrap_or_default(),
        })
        .collect())
}

/// Wait until the BIOS reports every `wanted` value (a BMC applies pending settings while
/// the system starts). Err names those still different after the overall timeout.
async fn wait_applied(
    c: &Client,
    ctx: &TaskContext<'_>,
    wanted: &Map<String, Value>,
) -> Result<(), DriverError> {
    let rc = &ctx.config.redfish;
    let deadline = Instant::now() + rc.firmware_update_overall_timeout;
    loop {
        let (_, bios) = bios_of(c, &ctx.node.uuid, "apply_configuration").await?;
        let now = field(&bios, "Attributes");
        let left: Map<String, Value> = wanted
            .iter()
            .filter(|(k, v)| now.get(k.as_str()) != Some(*v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if left.is_empty() {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(DriverError::Failed(format!(
                "Redfish BIOS apply_configuration step failed. Attributes {} are not updated.",
                Value::Object(left)
            )));
        }
        tokio::time::sleep(rc.firmware_update_status_interval).await;
    }
}

impl RedfishBios {
    async fn apply(&self, ctx: &mut TaskContext<'_>, s: &Step) -> Result<(), DriverError> {
        let settings = parse_settings(&s.args).map_err(DriverError::InvalidParameterValue)?;
        let node = ctx.node.uuid.clone();
        let c = client(ctx)?;
        let (path, bios) = bios_of(&c, &node, "apply_configuration").await?;
        let reg = registry(&c, &bios).await;
        // Every value is checked before the BMC is asked for anything.
        let mut wanted = Map::new();
        let mut invalid = vec![];
        for (name, value) in &settings {
            match reg.get(name).map(Registry::from_redfish) {
                Some(r) => match r.check(value) {
                    Ok(typed) => {
                        wanted.insert(name.clone(), typed);
                    }
                    Err(why) => invalid.push(format!("{name} ({why})")),
                },
                // Not in the registry: passed on as given, as Ironic does.
                None => {
                    wanted.insert(name.clone(), Value::String(value.clone()));
                }
            }
        }
        if !invalid.is_empty() {
            return Err(DriverError::InvalidParameterValue(format!(
                "Redfish BIOS apply_configuration failed for node {node}: invalid value for setting(s): {}",
                invalid.join(", ")
            )));
        }
        let current = field(&bios, "Attributes");
        if wanted
            .iter()
            .all(|(k, v)| current.get(k.as_str()) == Some(v))
        {
            tracing::info!(node = %node, "the BIOS already has every requested value; no reset");
            return Ok(());
        }
        c.bios_set(&path, &bios, &Value::Object(wanted.clone()))
            .await
            .map_err(|e| {
                DriverError::Failed(format!(
                    "Redfish BIOS apply_configuration failed for node {node}. Error: {e}"
                ))
            })?;
        RedfishPower.reboot(ctx, false, None).await?;
        wait_applied(&c, ctx, &wanted).await
    }

    async fn factory_reset(&self, ctx: &mut TaskContext<'_>) -> Result<(), DriverError> {
        let node = ctx.node.uuid.clone();
        let c = client(ctx)?;
        let (path, bios) = bios_of(&c, &node, "factory reset").await?;
        c.bios_reset(&path, &bios).await.map_err(|e| {
            DriverError::Failed(format!(
                "Redfish BIOS factory reset failed for node {node}. Error: {e}"
            ))
        })?;
        RedfishPower.reboot(ctx, false, None).await
    }
}

#[async_trait]
impl StepInterface for RedfishBios {
    async fn validate(&self, ctx: &TaskContext<'_>) -> Result<(), DriverError> {
        endpoint(ctx).map(|_| ())
    }
    fn clean_steps(&self) -> Vec<Step> {
        vec![step("apply_configuration"), step("factory_reset")]
    }
    fn deploy_steps(&self) -> Vec<Step> {
        vec![step("apply_configuration"), step("factory_reset")]
    }
    async fn cache(&self, ctx: &mut TaskContext<'_>) -> Result<(), DriverError> {
        let c = client(ctx)?;
        let settings = read_settings(&c, &ctx.node.uuid).await?;
        ctx.bios_update = Some(BiosUpdate::Cache(settings));
        Ok(())
    }
    async fn execute_step(
        &self,
        ctx: &mut TaskContext<'_>,
        s: &Step,
    ) -> Result<Progress, DriverError> {
        match s.step.as_str() {
            "apply_configuration" => self.apply(ctx, s).await?,
            "factory_reset" => self.factory_reset(ctx).await?,
            other => {
                return Err(DriverError::InvalidParameterValue(format!(
                    "Unknown step bios.{other}"
                )))
            }
        }
        // Both end with the settings read again (Ironic's cache_bios_settings decorator).
        self.cache(ctx).await?;
        Ok(Progress::Done)
    }
}
