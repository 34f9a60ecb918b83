//! Virtual media on a node's management interface (Ironic's attach_virtual_media,
//! detach_virtual_media and get_virtual_media in conductor/manager.py). Attach and detach
//! take the node's lock, check what Ironic checks, and do the BMC work on a worker: the API
//! answers 204 at once, and a failure lands in last_error and the node's history. No
//! provision state is refused, as in Ironic; a locked node is NodeLocked (409).

use super::power::driver_err;
use super::task::{NodeTask, Wait};
use super::{Conductor, ConductorError as E, Result};
use crate::drivers::{DriverError, TaskContext};
use crate::model::history::SEVERITY_ERROR;
use crate::model::node::Node;
use crate::model::vmedia::{self, DownloadSource, VmediaDevice, VmediaStatus};

/// Ironic's fault for a node whose power failed (maintenance set by the power sync).
const POWER_FAILURE: &str = "power failure";

impl Conductor {
    /// `GET /vmedia`: what each device holds, asked of the BMC now (no lock, as Ironic's
    /// shared task).
    pub async fn node_vmedia_get(&self, node: Node) -> Result<Vec<VmediaStatus>> {
        let mut n = node;
        let driver = self.driver_for(&n)?;
        let ports = self.ports_of(&n.uuid).await?;
        let mut ctx = TaskContext::new(&mut n, &ports, &self.config);
        driver.management.validate(&ctx).await.map_err(driver_err)?;
        driver
            .management
            .get_virtual_media(&mut ctx)
            .await
            .map_err(driver_err)
    }

    /// `POST /vmedia`: insert `url` into a `device` (the API checked both).
    pub async fn node_vmedia_attach(
        &self,
        node: Node,
        device: VmediaDevice,
        url: String,
        source: DownloadSource,
    ) -> Result<()> {
        let scheme = vmedia::scheme(&url);
        if source == DownloadSource::Local && vmedia::BMC_ONLY_SCHEMES.contains(&scheme.as_str()) {
            return Err(E::InvalidParameterValue(format!(
                "image_download_source is set to 'local' but the image URL {url} uses the {scheme} protocol which cannot be downloaded by the conductor. Set image_download_source to 'http' or remove it to use the default."
            )));
        }
        let task = self
            .vmedia_task(&node, "attach", "attach_virtual_media")
            .await?;
        self.vmedia_run(task, move |task| {
            Box::pin(async move {
                let published = publish(task, &url, source).await;
                let (driver, mut ctx) = task.ctx();
                let r = match published {
                    Ok(u) => {
                        driver
                            .management
                            .attach_virtual_media(&mut ctx, device, &u)
                            .await
                    }
                    Err(e) => Err(e),
                };
                r.map_err(|e| {
                    format!(
                        "Could not attach device {} to node {}: {e}",
                        device.name(),
                        ctx.node.uuid
                    )
                })
            })
        })
        .await
    }

    /// `DELETE /vmedia`: eject the devices of `devices` (all for None).
    pub async fn node_vmedia_detach(
        &self,
        node: Node,
        devices: Option<Vec<VmediaDevice>>,
    ) -> Result<()> {
        let task = self
            .vmedia_task(&node, "detach", "detach_virtual_media")
            .await?;
        self.vmedia_run(task, move |task| {
            Box::pin(async move {
                let (driver, mut ctx) = task.ctx();
                let r = driver
                    .management
                    .detach_virtual_media(&mut ctx, devices.as_deref())
                    .await;
                r.map_err(|e| {
                    // Python's rendering of the list, as Ironic's message has it.
                    let names = match &devices {
                        None => "None".to_string(),
                        Some(d) => vmedia::py_list(&d.iter().map(|d| d.name()).collect::<Vec<_>>()),
                    };
                    format!(
                        "Could not detach device(s) {names} from node {}: {e}",
                        ctx.node.uuid
                    )
                })
            })
        })
        .await
    }

    /// The node locked for a vmedia change, after Ironic's checks; last_error cleared.
    async fn vmedia_task(&self, node: &Node, verb: &str, extension: &str) -> Result<NodeTask> {
        // A management interface without vmedia is refused now, not after a 204 (Ironic
        // finds out on its worker; the text is the same).
        let driver = self.driver_for(node)?;
        if !driver.management.supports_virtual_media() {
            return Err(E::Unsupported {
                driver: node.driver.clone(),
                what: extension.into(),
            });
        }
        let mut task = self.acquire(&node.uuid, Wait::Configured).await?;
        let refused = {
            let (driver, ctx) = task.ctx();
            driver.management.validate(&ctx).await.err().map(driver_err)
        };
        let refused = refused.or_else(|| {
            (task.node.maintenance && task.node.fault.as_deref() == Some(POWER_FAILURE)).then(
                || {
                    E::TemporaryFailure(format!(
                        "Unable to {verb} virtual media for node {} due to power failure state",
                        task.node.uuid
                    ))
                },
            )
        });
        if let Some(e) = refused {
            task.release().await;
            return Err(e);
        }
        task.node.last_error = None;
        if let Err(e) = task.save().await {
            task.release().await;
            return Err(e);
        }
        Ok(task)
    }

    /// Run `work` on a worker with the node locked; its error text goes to last_error and
    /// the history.
    async fn vmedia_run(
        &self,
        mut task: NodeTask,
        work: impl for<'a> FnOnce(
                &'a mut NodeTask,
            ) -> std::pin::Pin<
                Box<dyn std::future::Future<Output = std::result::Result<(), String>> + Send + 'a>,
            > + Send
            + 'static,
    ) -> Result<()> {
        let slot = match self.workers.reserve() {
            Ok(s) => s,
            Err(e) => {
                task.release().await;
                return Err(e);
            }
        };
        self.workers.run(slot, async move {
            if let Err(msg) = work(&mut task).await {
                // The image URL may carry credentials: never stored or logged with them.
                let msg = crate::model::secrets::mask_text(&msg).into_owned();
                tracing::warn!(node = %task.node.uuid, error = %msg, "virtual media action failed");
                task.node.last_error = Some(msg.clone());
                let _ = task.history(SEVERITY_ERROR, "vmedia", msg).await;
            }
            if let Err(e) = task.save().await {
                tracing::error!(node = %task.node.uuid, error = %e, "could not save the node after a virtual media action");
            }
            task.release().await;
        });
        Ok(())
    }
}

/// The URL to hand the BMC. `local` (Ironic's default): ironbox downloads the image into
/// its cache and serves it from the boot network's HTTP server. Without that server there
/// is nothing to serve from, so the BMC gets the URL as given, as for `http`.
async fn publish(
    task: &mut NodeTask,
    url: &str,
    source: DownloadSource,
) -> std::result::Result<String, DriverError> {
    let (_, ctx) = task.ctx();
    let http = matches!(vmedia::scheme(url).as_str(), "http" | "https");
    let (Some(base), Some(cache), DownloadSource::Local, true) =
        (ctx.urls.boot_http.clone(), ctx.images.clone(), source, http)
    else {
        return Ok(url.to_string());
    };
    crate::drivers::direct::cached_image_url(&cache, &base, url, None, false)
        .await
        .map(|(url, _)| url)
}
