//! The "nothing to do" implementations (Ironic's `modules/noop.py`, `noop_mgmt.py`,
//! network `noop`/`flat`, storage `noop`): `no-*` refuse in validate (the node cannot do
//! that); `noop`/`flat` accept and do nothing, for hardware managed by hand.

use async_trait::async_trait;
use serde_json::Value;

use super::*;

/// `no-bios`, `no-console`, `no-firmware`, `no-inspect`, `no-raid`, `no-rescue`, `no-vendor`.
pub struct Unsupported {
    pub kind: &'static str,
}

impl Unsupported {
    fn err(&self, ctx: &TaskContext<'_>) -> DriverError {
        DriverError::Unsupported {
            driver: ctx.node.driver.clone(),
            kind: self.kind.into(),
        }
    }
}

#[async_trait]
impl StepInterface for Unsupported {
    async fn validate(&self, ctx: &TaskContext<'_>) -> Result<(), DriverError> {
        Err(self.err(ctx))
    }
}

#[async_trait]
impl InspectInterface for Unsupported {
    async fn inspect_hardware(&self, ctx: &mut TaskContext<'_>) -> Result<Progress, DriverError> {
        Err(self.err(ctx))
    }
}

#[async_trait]
impl RescueInterface for Unsupported {
    async fn rescue(&self, _: &Driver, ctx: &mut TaskContext<'_>) -> Result<Progress, DriverError> {
        Err(self.err(ctx))
    }
    async fn unrescue(&self, _: &Driver, ctx: &mut TaskContext<'_>) -> Result<(), DriverError> {
        Err(self.err(ctx))
    }
}

impl ConsoleInterface for Unsupported {
    fn source(
        &self,
        ctx: &TaskContext<'_>,
    ) -> Result<Arc<dyn console::ConsoleSource>, DriverError> {
        Err(self.err(ctx))
    }
    fn console_info(&self, _: &TaskContext<'_>, _: &console::ConsoleEndpoint) -> Value {
        Value::Null
    }
}

#[async_trait]
impl VendorInterface for Unsupported {}

/// `noop` network/storage, `flat` network: nothing to configure in a standalone appliance.
pub struct Noop;

#[async_trait]
impl StepInterface for Noop {
    async fn validate(&self, _: &TaskContext<'_>) -> Result<(), DriverError> {
        Ok(())
    }
}

/// `noop` management: the operator sets boot devices by hand; nothing is read or written.
pub struct NoopManagement;

#[async_trait]
impl ManagementInterface for NoopManagement {
    async fn validate(&self, _: &TaskContext<'_>) -> Result<(), DriverError> {
        Ok(())
    }
    fn supported_boot_devices(&self, _: &TaskContext<'_>) -> Vec<&'static str> {
        vec!["pxe", "disk"]
    }
    async fn set_boot_device(
        &self,
        _: &mut TaskContext<'_>,
        _: &str,
        _: bool,
    ) -> Result<(), DriverError> {
        Ok(())
    }
    async fn get_boot_device(
        &self,
        _: &mut TaskContext<'_>,
    ) -> Result<(Option<String>, Option<bool>), DriverError> {
        Ok((None, None))
    }
    async fn inject_nmi(&self, ctx: &mut TaskContext<'_>) -> Result<(), DriverError> {
        Err(DriverError::Unsupported {
            driver: ctx.node.driver.clone(),
            kind: "inject_nmi".into(),
        })
    }
    async fn set_boot_mode(&self, ctx: &mut TaskContext<'_>, _: &str) -> Result<(), DriverError> {
        Err(DriverError::Unsupported {
            driver: ctx.node.driver.clone(),
            kind: "boot mode".into(),
        })
    }
    async fn set_secure_boot(&self, ctx: &mut TaskContext<'_>, _: bool) -> Result<(), DriverError> {
        Err(DriverError::Unsupported {
            driver: ctx.node.driver.clone(),
            kind: "secure boot".into(),
        })
    }
}
