//! Ironic's provision and power state names, verbatim (clients compare these strings).
//! The transitions between them live in `conductor::fsm`; this file only names them.

pub const ENROLL: &str = "enroll";
pub const VERIFYING: &str = "verifying";
pub const MANAGEABLE: &str = "manageable";
pub const INSPECTING: &str = "inspecting";
pub const INSPECT_WAIT: &str = "inspect wait";
pub const INSPECT_FAILED: &str = "inspect failed";
pub const CLEANING: &str = "cleaning";
pub const CLEAN_WAIT: &str = "clean wait";
pub const CLEAN_FAILED: &str = "clean failed";
pub const CLEAN_HOLD: &str = "clean hold";
pub const AVAILABLE: &str = "available";
pub const DEPLOYING: &str = "deploying";
pub const WAIT_CALLBACK: &str = "wait call-back";
pub const DEPLOY_FAILED: &str = "deploy failed";
pub const DEPLOY_HOLD: &str = "deploy hold";
pub const ACTIVE: &str = "active";
pub const DELETING: &str = "deleting";
pub const ERROR: &str = "error";
pub const RESCUING: &str = "rescuing";
pub const RESCUE_WAIT: &str = "rescue wait";
pub const RESCUE_FAILED: &str = "rescue failed";
pub const RESCUE: &str = "rescue";
pub const UNRESCUING: &str = "unrescuing";
pub const UNRESCUE_FAILED: &str = "unrescue failed";
pub const ADOPTING: &str = "adopting";
pub const ADOPT_FAILED: &str = "adopt failed";
pub const SERVICING: &str = "servicing";
pub const SERVICE_WAIT: &str = "service wait";
pub const SERVICE_FAILED: &str = "service failed";
pub const SERVICE_HOLD: &str = "service hold";

/// Every provision state a node can be in (the `?provision_state=` filter accepts these).
pub const ALL_PROVISION_STATES: &[&str] = &[
    ENROLL,
    VERIFYING,
    MANAGEABLE,
    INSPECTING,
    INSPECT_WAIT,
    INSPECT_FAILED,
    CLEANING,
    CLEAN_WAIT,
    CLEAN_FAILED,
    CLEAN_HOLD,
    AVAILABLE,
    DEPLOYING,
    WAIT_CALLBACK,
    DEPLOY_FAILED,
    DEPLOY_HOLD,
    ACTIVE,
    DELETING,
    ERROR,
    RESCUING,
    RESCUE_WAIT,
    RESCUE_FAILED,
    RESCUE,
    UNRESCUING,
    UNRESCUE_FAILED,
    ADOPTING,
    ADOPT_FAILED,
    SERVICING,
    SERVICE_WAIT,
    SERVICE_FAILED,
    SERVICE_HOLD,
];

/// States from which a node may be deleted (maintenance overrides this check).
pub const DELETE_ALLOWED_STATES: &[&str] = &[MANAGEABLE, ENROLL, ADOPT_FAILED, AVAILABLE];

/// States in which a node's interfaces and driver may change.
pub const UPDATE_ALLOWED_STATES: &[&str] =
    &[ENROLL, INSPECTING, INSPECT_WAIT, MANAGEABLE, AVAILABLE];

/// States in which a node with a transition under way may still be PATCHed.
pub const PATCH_WHILE_TRANSITIONING: &[&str] = &[
    DEPLOY_FAILED,
    INSPECTING,
    INSPECT_FAILED,
    INSPECT_WAIT,
    CLEAN_FAILED,
    ERROR,
    VERIFYING,
    ADOPT_FAILED,
    RESCUE_FAILED,
    UNRESCUE_FAILED,
    "service",
    SERVICE_HOLD,
    SERVICE_FAILED,
];

pub const POWER_ON: &str = "power on";
pub const POWER_OFF: &str = "power off";
/// Every power target the API accepts.
pub const POWER_TARGETS: &[&str] = &[
    "power on",
    "power off",
    "rebooting",
    "soft power off",
    "soft rebooting",
];

/// Values of the node `fault` field (and its list filter).
pub const FAULTS: &[&str] = &[
    "power failure",
    "clean failure",
    "rescue abort failure",
    "service failure",
];
