//! ConductorError: variants named after Ironic's exceptions, so `api::error` can give each the
//! status code and message clients expect.

use crate::db::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ConductorError {
    #[error("Node {0} could not be found.")]
    NodeNotFound(String),
    /// Ironic's bare NotFound (lookup answers it alike for unknown and unready nodes).
    #[error("{0}")]
    NotFound(String),
    #[error("Port {0} could not be found.")]
    PortNotFound(String),
    #[error("Portgroup {0} could not be found.")]
    PortgroupNotFound(String),
    #[error("Chassis {0} could not be found.")]
    ChassisNotFound(String),
    #[error("Conductor {0} could not be found.")]
    ConductorNotFound(String),
    #[error("Node {node} doesn't have a trait '{name}'")]
    NodeTraitNotFound { node: String, name: String },
    #[error("Node history record {0} could not be found.")]
    HistoryNotFound(String),
    #[error("Driver {0} could not be found.")]
    DriverNotFound(String),
    #[error("{0}")]
    InvalidParameterValue(String),
    #[error("{0}")]
    MissingParameterValue(String),
    #[error("No valid host was found. Reason: No conductor service registered which supports driver {driver} for conductor group \"{group}\".")]
    NoValidHost { driver: String, group: String },
    #[error("A node with name {0} already exists.")]
    DuplicateName(String),
    #[error("A node with UUID {0} already exists.")]
    NodeAlreadyExists(String),
    #[error("A port with MAC address {0} already exists.")]
    MacAlreadyExists(String),
    #[error("A port with UUID {0} already exists.")]
    PortAlreadyExists(String),
    #[error("A port with name {0} already exists.")]
    PortDuplicateName(String),
    #[error("A portgroup with UUID {0} already exists.")]
    PortgroupAlreadyExists(String),
    #[error("A portgroup with name {0} already exists.")]
    PortgroupDuplicateName(String),
    #[error("A portgroup with MAC address {0} already exists.")]
    PortgroupMacAlreadyExists(String),
    #[error("A chassis with UUID {0} already exists.")]
    ChassisAlreadyExists(String),
    #[error("Node {node} is associated with instance {instance}.")]
    NodeAssociated { node: String, instance: String },
    #[error("Instance {instance} is already associated with a node, it cannot be associated with this other node {node}")]
    InstanceAssociated { instance: String, node: String },
    #[error("Cannot complete the requested action because chassis {0} contains nodes.")]
    ChassisNotEmpty(String),
    #[error("Cannot complete the requested action because portgroup {0} contains ports.")]
    PortgroupNotEmpty(String),
    /// A request not valid in the node's current state (Ironic's InvalidState, 409).
    #[error("{0}")]
    InvalidState(String),
    #[error("Node {node} is locked by host {host}, please retry after the current operation is completed.")]
    NodeLocked { node: String, host: String },
    #[error("Node {0} is protected and cannot be undeployed, rebuilt or deleted")]
    NodeProtected(String),
    #[error("The requested action \"{action}\" can not be performed on node \"{node}\" while it is in state \"{state}\".")]
    InvalidStateRequested {
        action: String,
        node: String,
        state: String,
    },
    #[error(
        "The {op} operation can't be performed on node {node} because it's in maintenance mode."
    )]
    NodeInMaintenance { op: String, node: String },
    #[error("The {op} operation can't be performed on node {node} because it is retired.")]
    NodeIsRetired { op: String, node: String },
    #[error("Requested action cannot be performed due to lack of free conductor workers.")]
    NoFreeConductorWorker,
    /// `[auto_discovery] max_enrollments_per_minute` reached (503: the ramdisk retries).
    #[error("Too many machines discovered in the last minute, retry later.")]
    DiscoveryRateLimited,
    /// Ironic's TemporaryFailure (503): retry later.
    #[error("{0}")]
    TemporaryFailure(String),
    /// The driver refused or failed a synchronous request.
    #[error("{0}")]
    DriverError(String),
    #[error("Driver {driver} does not support {what} (disabled or not implemented).")]
    Unsupported { driver: String, what: String },
    #[error("Allocation {0} could not be found.")]
    AllocationNotFound(String),
    #[error("An allocation with name {0} already exists.")]
    AllocationDuplicateName(String),
    #[error("An allocation with UUID {0} already exists.")]
    AllocationAlreadyExists(String),
    #[error("Deploy template {0} could not be found.")]
    DeployTemplateNotFound(String),
    #[error("A deploy template with name {0} already exists.")]
    DeployTemplateDuplicateName(String),
    #[error("A deploy template with UUID {0} already exists.")]
    DeployTemplateAlreadyExists(String),
    #[error("A runbook with name {0} already exists.")]
    RunbookDuplicateName(String),
    #[error("A runbook with UUID {0} already exists.")]
    RunbookAlreadyExists(String),
    #[error("A rule with UUID {0} already exists.")]
    InspectionRuleAlreadyExists(String),
    /// Ironic's VifAlreadyAttached (409); the text names the port or portgroup.
    #[error("{0}")]
    VifAlreadyAttached(String),
    /// Ironic's NoFreePhysicalPorts (an Invalid: 400).
    #[error("{0}")]
    NoFreePhysicalPorts(String),
    #[error("Unable to detach VIF {vif} from node {node} because it is not attached to it.")]
    VifNotAttached { vif: String, node: String },
    #[error("A volume connector with UUID {0} already exists.")]
    VolumeConnectorAlreadyExists(String),
    #[error("A volume connector with type {connector_type} and connector ID {connector_id} already exists.")]
    VolumeConnectorTypeAndIdAlreadyExists {
        connector_type: String,
        connector_id: String,
    },
    #[error("A volume target with UUID {0} already exists.")]
    VolumeTargetAlreadyExists(String),
    #[error("A volume target with boot index '{0}' for the same node already exists.")]
    VolumeTargetBootIndexAlreadyExists(i64),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub type Result<T> = std::result::Result<T, ConductorError>;
