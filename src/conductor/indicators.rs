//! Hardware indicators (Ironic's get_supported_indicators / get_indicator_state /
//! set_indicator_state): the management interface lists them; the conductor checks the
//! component, indicator and state against that list before the driver reads or sets one.

use super::power::driver_err;
use super::task::Wait;
use super::{Conductor, ConductorError as E, Result};
use crate::model::indicator::{self, Indicator};
use crate::model::node::Node;

impl Conductor {
    /// Every indicator the node's management interface offers.
    pub async fn node_indicators(&self, node: Node) -> Result<Vec<Indicator>> {
        let mut n = node;
        let driver = self.driver_for(&n)?;
        let ports = self.ports_of(&n.uuid).await?;
        let mut ctx = crate::drivers::TaskContext::new(&mut n, &ports, &self.config);
        driver
            .management
            .get_supported_indicators(&mut ctx)
            .await
            .map_err(driver_err)
    }

    /// The state of `<name>@<component>`.
    pub async fn node_indicator_state(&self, node: Node, unique: &str) -> Result<&'static str> {
        let (name, component) = indicator::parse(unique).map_err(E::InvalidParameterValue)?;
        let mut task = self.acquire(&node.uuid, Wait::Configured).await?;
        let (driver, mut ctx) = task.ctx();
        let r = async {
            driver.management.validate(&ctx).await.map_err(driver_err)?;
            let all = driver
                .management
                .get_supported_indicators(&mut ctx)
                .await
                .map_err(driver_err)?;
            let led = pick(all, component, name)?;
            driver
                .management
                .get_indicator_state(&mut ctx, &led)
                .await
                .map_err(driver_err)
        }
        .await;
        task.release().await;
        r
    }

    /// Set `<name>@<component>` to `state` (one of the states it lists).
    pub async fn node_set_indicator_state(
        &self,
        node: Node,
        unique: &str,
        state: &str,
    ) -> Result<()> {
        let (name, component) = indicator::parse(unique).map_err(E::InvalidParameterValue)?;
        let mut task = self.acquire(&node.uuid, Wait::Configured).await?;
        let uuid = task.node.uuid.clone();
        let (driver, mut ctx) = task.ctx();
        let r = async {
            driver.management.validate(&ctx).await.map_err(driver_err)?;
            let all = driver
                .management
                .get_supported_indicators(&mut ctx)
                .await
                .map_err(driver_err)?;
            let led = pick(all, component, name)?;
            if led.readonly {
                return Err(E::InvalidParameterValue(format!(
                    "Indicator {} of node {uuid} is read-only",
                    led.unique_name()
                )));
            }
            let wanted = indicator::settable(state)
                .filter(|s| led.states.contains(s))
                .ok_or_else(|| {
                    E::InvalidParameterValue(format!(
                        "Invalid state {state} for indicator {}; it can be set to: {}",
                        led.unique_name(),
                        led.states.join(", ")
                    ))
                })?;
            driver
                .management
                .set_indicator_state(&mut ctx, &led, wanted)
                .await
                .map_err(driver_err)
        }
        .await;
        let r = match r {
            Ok(()) => task.save().await,
            Err(e) => Err(e),
        };
        task.release().await;
        r
    }
}

/// The indicator named, with Ironic's fake-driver messages for an unknown component or
/// indicator.
fn pick(all: Vec<Indicator>, component: &str, name: &str) -> Result<Indicator> {
    if !all.iter().any(|i| i.component == component) {
        return Err(E::InvalidParameterValue(format!(
            "Invalid component {component} specified."
        )));
    }
    all.into_iter()
        .find(|i| i.component == component && i.name == name)
        .ok_or_else(|| E::InvalidParameterValue(format!("Invalid indicator {name} specified.")))
}
