//! Rescue and unrescue (Ironic's conductor/manager.py rescue parts and `rescuing_error_handler`):
//! the rescue password kept and hashed for the agent, the background flows, the agent's
//! call-in that finishes a rescue, and the clean-up after a failure, a timeout or an abort.
//! The password is only ever in `instance_info` (masked in every view) until the rescue
//! ends either way.

use super::fsm::Event;
use super::provision::fail;
use super::task::NodeTask;
use crate::config::RescueHash;
use crate::drivers::agent_rescue::{HASHED_RESCUE_PASSWORD, RESCUE_PASSWORD};
use crate::drivers::Progress;
use crate::model::dii::forget_agent;
use crate::model::history::SEVERITY_ERROR;
use crate::model::rescue_password::{crypt, CryptMethod};
use crate::model::states::{POWER_OFF, RESCUE_WAIT, RESCUING};

/// Keep the password and its hash on the node before the rescue interface validates it
/// (as Ironic: validation reads it from `instance_info`).
pub(super) fn keep_password(task: &mut NodeTask, password: &str) -> super::Result<()> {
    let method = match task
        .conductor
        .config
        .conductor
        .rescue_password_hash_algorithm
    {
        RescueHash::Sha256 => CryptMethod::Sha256,
        RescueHash::Sha512 => CryptMethod::Sha512,
    };
    let hashed = crypt(password, method).map_err(super::ConductorError::DriverError)?;
    let ii = &mut task.node.instance_info;
    ii.insert(RESCUE_PASSWORD.into(), password.into());
    ii.insert(HASHED_RESCUE_PASSWORD.into(), hashed.into());
    Ok(())
}

fn forget_password(task: &mut NodeTask) {
    task.node.instance_info.remove(RESCUE_PASSWORD);
    task.node.instance_info.remove(HASHED_RESCUE_PASSWORD);
}

/// active/rescue → rescuing → rescue wait (or rescue at once).
pub(super) async fn rescue(task: &mut NodeTask) -> Result<(), String> {
    let (driver, mut ctx) = task.ctx();
    let next = driver.rescue.rescue(&driver, &mut ctx).await;
    match next {
        Ok(Progress::Wait) => task.process_event(Event::Wait, None).await.map_err(s),
        Ok(_) => task.process_event(Event::Done, None).await.map_err(s),
        Err(e) => {
            forget_password(task);
            Err(format!("Failed to rescue: {e}"))
        }
    }
}

/// rescue → unrescuing → active.
pub(super) async fn unrescue(task: &mut NodeTask) -> Result<(), String> {
    let (driver, mut ctx) = task.ctx();
    driver
        .rescue
        .unrescue(&driver, &mut ctx)
        .await
        .map_err(|e| format!("Failed to unrescue: {e}"))?;
    forget_password(task);
    task.process_event(Event::Done, None).await.map_err(s)
}

/// The rescue ramdisk's agent called in while the node waits for it: hand it the password,
/// then rescue wait → rescuing → rescue. On failure the rescue is undone and the node is
/// `rescue failed`.
pub(super) async fn finish_after_heartbeat(mut task: NodeTask) {
    let (driver, mut ctx) = task.ctx();
    let finalized = driver.rescue.finalize(&driver, &mut ctx).await;
    let outcome = match finalized {
        Ok(()) => match task.process_event(Event::Resume, None).await {
            Ok(()) => task.process_event(Event::Done, None).await.map_err(s),
            Err(e) => Err(e.to_string()),
        },
        Err(e) => Err(format!("Node failed to perform rescue operation: {e}")),
    };
    if let Err(msg) = outcome {
        undo(&mut task, msg).await;
    }
    task.release().await;
}

/// Ironic's `rescuing_error_handler`: power off, undo the rescue, forget the agent, and
/// fail the node with `msg` (a clean-up failure is recorded beside it).
pub(super) async fn undo(task: &mut NodeTask, msg: String) {
    let (driver, mut ctx) = task.ctx();
    let cleaned = match driver
        .power
        .set_power_state(&mut ctx, POWER_OFF, None)
        .await
    {
        Ok(()) => driver.rescue.clean_up(&driver, &mut ctx).await,
        Err(e) => Err(e),
    };
    forget_agent(&mut task.node.driver_internal_info);
    forget_password(task);
    if let Err(e) = cleaned {
        let text = format!("Rescue operation was unsuccessful, clean up failed for node: {e}");
        tracing::error!(node = %task.node.uuid, error = %e, "rescue clean-up failed");
        let _ = task.history(SEVERITY_ERROR, "rescue", text).await;
    }
    if [RESCUING, RESCUE_WAIT].contains(&task.node.provision_state.as_str()) {
        fail(task, msg).await;
    } else {
        let _ = task.save().await;
    }
}

/// An abort from `rescue wait`: undo the rescue (the FSM move is the caller's).
pub(super) async fn clean_up_on_abort(task: &mut NodeTask) {
    forget_password(task);
    let (driver, mut ctx) = task.ctx();
    if let Err(e) = driver.rescue.clean_up(&driver, &mut ctx).await {
        tracing::error!(node = %task.node.uuid, error = %e, "rescue clean-up after abort failed");
        let text = "Failed to clean up rescue after aborting the operation".to_string();
        task.node.maintenance = true;
        task.node.fault = Some("rescue abort failure".into());
        task.node.maintenance_reason = Some(text.clone());
        let _ = task.history(SEVERITY_ERROR, "rescue", text).await;
    }
    forget_agent(&mut task.node.driver_internal_info);
}

fn s(e: impl std::fmt::Display) -> String {
    e.to_string()
}
