//! Why a libvirt operation failed ([`LibvirtError`]), and the mapping of libvirt's error
//! codes to it.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use virt::enumutil::Enum;
use virt::error::ErrorNumber;

use super::domain::spec::DomainSpecError;
use super::network::spec::{NetworkMode, NetworkSpec, NetworkSpecError};
use super::pool::spec::PoolSpecError;
use super::volume::spec::VolumeSpecError;
use super::volume::upload::UploadError;

/// The kinds of libvirt object rack manages, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ObjectKind {
    /// A virtual network.
    Network,
    /// A storage pool.
    StoragePool,
    /// A storage volume.
    Volume,
    /// A virtual machine (libvirt domain).
    Domain,
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Network => "Network",
            Self::StoragePool => "Storage pool",
            Self::Volume => "Volume",
            Self::Domain => "VM",
        })
    }
}

/// Why a libvirt operation failed. Every message says what to check.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum LibvirtError {
    /// The connection could not be opened.
    #[error("Cannot connect to the hypervisor at {uri}; {hint}")]
    Connect {
        /// The URI.
        uri: String,
        /// What to check, by the URI's transport.
        hint: String,
        /// libvirt's error.
        #[source]
        source: virt::error::Error,
    },
    /// The connection broke during a call (daemon restarted, tunnel closed); the next
    /// call opens it again.
    #[error(
        "Lost the connection to the hypervisor at {uri} while trying to {action}; check that libvirtd (or virtqemud) still runs there, then retry"
    )]
    ConnectionLost {
        /// The URI.
        uri: String,
        /// What was being done.
        action: String,
        /// libvirt's error.
        #[source]
        source: virt::error::Error,
    },
    /// libvirt refused for lack of rights.
    #[error(
        "The hypervisor at {uri} denied the request to {action}; check that the connecting user may manage it (root or the libvirt group for qemu:///system, polkit rules, an access driver) and file permissions on the hypervisor"
    )]
    Denied {
        /// The URI.
        uri: String,
        /// What was refused.
        action: String,
        /// libvirt's error.
        #[source]
        source: virt::error::Error,
    },
    /// The object does not exist.
    #[error("{kind} {name:?} does not exist on the hypervisor at {uri}")]
    NotFound {
        /// The URI.
        uri: String,
        /// What kind of object.
        kind: ObjectKind,
        /// Its name.
        name: String,
    },
    /// An object of that name exists already.
    #[error(
        "{kind} {name:?} already exists on the hypervisor at {uri}; import it, or choose another name"
    )]
    Exists {
        /// The URI.
        uri: String,
        /// What kind of object.
        kind: ObjectKind,
        /// Its name.
        name: String,
    },
    /// A host bridge the configuration names does not exist on the hypervisor.
    #[error(
        "Host bridge {bridge:?} does not exist on the hypervisor at {uri}; create it there first (e.g. `ip link add {bridge} type bridge`), or use another mode"
    )]
    MissingBridge {
        /// The URI.
        uri: String,
        /// The bridge.
        bridge: String,
        /// libvirt's error, when libvirt reported it.
        #[source]
        source: Option<virt::error::Error>,
    },
    /// A storage pool's directory, volume group or devices cannot be used.
    #[error("Storage pool {pool:?} cannot use {storage} on the hypervisor at {uri}; {hint}")]
    PoolStorage {
        /// The URI.
        uri: String,
        /// The pool.
        pool: String,
        /// The directory, volume group or devices.
        storage: String,
        /// What to check.
        hint: &'static str,
        /// libvirt's error (boxed: this variant carries the most fields).
        #[source]
        source: Box<virt::error::Error>,
    },
    /// A storage pool exists but is not running.
    #[error(
        "Storage pool {pool:?} on the hypervisor at {uri} is not active; start it (`virsh pool-start`, or apply its rack_storage_pool again) and check its storage"
    )]
    PoolInactive {
        /// The URI.
        uri: String,
        /// The pool.
        pool: String,
        /// libvirt's error.
        #[source]
        source: virt::error::Error,
    },
    /// The pool's storage is full.
    #[error(
        "Storage pool {pool:?} on the hypervisor at {uri} has no room to {action}; free space there or use another pool"
    )]
    NoSpace {
        /// The URI.
        uri: String,
        /// The pool.
        pool: String,
        /// What was being done.
        action: String,
        /// libvirt's error.
        #[source]
        source: virt::error::Error,
    },
    /// A storage pool specification is not valid, or its XML cannot be modelled.
    #[error("Storage pool {name:?} cannot be used as given")]
    PoolSpec {
        /// The pool.
        name: String,
        /// What is wrong.
        #[source]
        source: PoolSpecError,
    },
    /// A volume specification is not valid, or its XML cannot be read.
    #[error("Volume {pool}/{name} cannot be used as given")]
    VolumeSpec {
        /// The pool.
        pool: String,
        /// The volume.
        name: String,
        /// What is wrong.
        #[source]
        source: VolumeSpecError,
    },
    /// A smaller volume was asked for; nothing was changed.
    #[error(
        "Volume {pool}/{name} is {current}; shrinking it to {wanted} is refused because the data at its end would be lost. Keep size at least {current}, or replace the volume"
    )]
    Shrink {
        /// The pool.
        pool: String,
        /// The volume.
        name: String,
        /// Its capacity now.
        current: crate::size::ByteSize,
        /// The capacity asked for.
        wanted: crate::size::ByteSize,
    },
    /// A volume's content could not be read, checked or streamed; the volume was
    /// deleted again.
    #[error("Cannot fill volume {pool}/{name} from its source")]
    Upload {
        /// The pool.
        pool: String,
        /// The volume.
        name: String,
        /// What went wrong.
        #[source]
        source: Arc<UploadError>,
    },
    /// A storage change needs the object replaced; nothing was changed.
    #[error("Changing {} of {kind} {name:?} needs it to be replaced", .attributes.join(", "))]
    StorageRequiresReplacement {
        /// Pool or volume.
        kind: ObjectKind,
        /// Its name.
        name: String,
        /// The attributes that differ.
        attributes: Vec<&'static str>,
    },
    /// The bridge name or an address is already used on the hypervisor.
    #[error(
        "Cannot {action} on the hypervisor at {uri}: its bridge name or address range is already in use there; choose another bridge name or subnet, or remove what uses it"
    )]
    InUse {
        /// The URI.
        uri: String,
        /// What was being done.
        action: String,
        /// libvirt's error.
        #[source]
        source: virt::error::Error,
    },
    /// libvirt rejected the definition.
    #[error(
        "The hypervisor at {uri} rejected the request to {action}; check the values in the configuration against the hypervisor's libvirt version"
    )]
    Rejected {
        /// The URI.
        uri: String,
        /// What was rejected.
        action: String,
        /// libvirt's error.
        #[source]
        source: virt::error::Error,
    },
    /// The specification is not valid, or what libvirt holds cannot be modelled.
    #[error("Network {name:?} cannot be used as given")]
    Spec {
        /// The network.
        name: String,
        /// What is wrong.
        #[source]
        source: NetworkSpecError,
    },
    /// The change needs the object replaced; nothing was changed.
    #[error(
        "Changing {} of network {name:?} needs the network to be replaced (libvirt cannot change it on a running network)",
        .attributes.join(", ")
    )]
    RequiresReplacement {
        /// The network.
        name: String,
        /// The attributes that differ.
        attributes: Vec<&'static str>,
    },
    /// The VM specification is not valid, or what libvirt holds cannot be modelled.
    #[error("VM {name:?} cannot be used as given")]
    DomainSpec {
        /// The VM.
        name: String,
        /// What is wrong.
        #[source]
        source: DomainSpecError,
    },
    /// The change needs the VM replaced; nothing was changed.
    #[error(
        "Changing {} of VM {name:?} needs the VM to be replaced",
        .attributes.join(", ")
    )]
    DomainRequiresReplacement {
        /// The VM.
        name: String,
        /// The attributes that differ.
        attributes: Vec<&'static str>,
    },
    /// Interfaces of a VM got no address in time.
    #[error(
        "VM {name:?} has no address from the {from} source for {} after {waited:?}; check that the guest booted and runs a DHCP client (lease source: on a libvirt network with DHCP) or the QEMU guest agent (agent source)",
        .missing.join(", ")
    )]
    NoAddress {
        /// The VM.
        name: String,
        /// Where addresses were looked for.
        from: String,
        /// The MAC addresses of the interfaces without one.
        missing: Vec<String>,
        /// How long it waited.
        waited: Duration,
    },
    /// No answer within the call timeout.
    #[error(
        "The hypervisor at {uri} did not answer the request to {action} within {timeout:?}; check that libvirtd (or virtqemud) runs and is not stuck, and the network to it"
    )]
    Timeout {
        /// The URI.
        uri: String,
        /// What was asked.
        action: String,
        /// How long the caller waited.
        timeout: Duration,
    },
    /// libvirt's client library could not be loaded.
    #[error(
        "Cannot load libvirt's client library ({library}) for the hypervisor at {uri}: \
         {reason}; install it on the machine running Terraform (Debian: the libvirt0 package)",
        library = super::on_demand::LIBRARY
    )]
    Library {
        /// The URI of the hypervisor that needed it.
        uri: String,
        /// The dynamic loader's message.
        reason: String,
    },
    /// The connection's thread could not be started.
    #[error("Cannot start the thread for the hypervisor at {uri}; check the process's limits")]
    Thread {
        /// The URI.
        uri: String,
        /// Why.
        #[source]
        source: Arc<std::io::Error>,
    },
    /// The connection's thread dropped the call (it panicked); a bug in rack.
    #[error(
        "The connection thread for the hypervisor at {uri} dropped the call; this is a bug in rack, please report it and retry"
    )]
    WorkerGone {
        /// The URI.
        uri: String,
    },
    /// libvirt answered with a document rack cannot read.
    #[error(
        "Cannot read the {what} the hypervisor at {uri} reported ({reason}); check its libvirt version"
    )]
    Unreadable {
        /// The URI.
        uri: String,
        /// What was read.
        what: String,
        /// Why it cannot be read.
        reason: String,
    },
    /// Any other failure.
    #[error("The hypervisor at {uri} failed to {action}; check libvirtd's log on the hypervisor")]
    Failed {
        /// The URI.
        uri: String,
        /// What was being done.
        action: String,
        /// libvirt's error.
        #[source]
        source: virt::error::Error,
    },
}

impl LibvirtError {
    /// Whether the connection should be opened again before the next call.
    pub(crate) fn connection_lost(&self) -> bool {
        matches!(self, Self::ConnectionLost { .. })
    }
}

pub(crate) fn known(e: &virt::error::Error) -> Option<ErrorNumber> {
    match e.code() {
        Enum::Known(k) => Some(k),
        Enum::Unknown(_) => None,
    }
}

/// Maps a libvirt error to the variant that says what to check. `spec` is the network
/// the action was about, if any (to recognise a missing host bridge).
pub(crate) fn classify(
    uri: &str,
    action: String,
    spec: Option<&NetworkSpec>,
    source: virt::error::Error,
) -> LibvirtError {
    use ErrorNumber as N;
    let uri = uri.to_owned();
    let message = source.message().to_owned();
    match known(&source) {
        Some(N::NoNetwork) => {
            let name = spec.map(|s| s.name.clone()).unwrap_or_default();
            LibvirtError::NotFound {
                uri,
                kind: ObjectKind::Network,
                name,
            }
        }
        Some(N::NoConnect | N::InvalidConn | N::Rpc) => LibvirtError::ConnectionLost {
            uri,
            action,
            source,
        },
        Some(
            N::OperationDenied
            | N::AccessDenied
            | N::AuthFailed
            | N::AuthCancelled
            | N::AuthUnavailable,
        ) => LibvirtError::Denied {
            uri,
            action,
            source,
        },
        _ if message.contains("Permission denied") => LibvirtError::Denied {
            uri,
            action,
            source,
        },
        _ if message.contains("No such device")
            && matches!(
                spec,
                Some(NetworkSpec {
                    mode: NetworkMode::Bridge { .. },
                    ..
                })
            ) =>
        {
            let bridge = match spec.map(|s| &s.mode) {
                Some(NetworkMode::Bridge { bridge }) => bridge.clone(),
                _ => String::new(),
            };
            LibvirtError::MissingBridge {
                uri,
                bridge,
                source: Some(source),
            }
        }
        _ if message.contains("already in use") || message.contains("File exists") => {
            LibvirtError::InUse {
                uri,
                action,
                source,
            }
        }
        Some(
            N::XmlError
            | N::XmlDetail
            | N::XmlInvalidSchema
            | N::InvalidArg
            | N::ConfigUnsupported
            | N::NoSupport
            | N::OperationUnsupported,
        ) => LibvirtError::Rejected {
            uri,
            action,
            source,
        },
        _ => LibvirtError::Failed {
            uri,
            action,
            source,
        },
    }
}

/// A libvirt lookup's answer with "no such object" (`missing`: `NoNetwork`,
/// `NoStoragePool`, ...) as `None`; any other failure is passed on for the caller to name.
pub(crate) fn missing_as_none<T>(
    found: Result<T, virt::error::Error>,
    missing: ErrorNumber,
) -> Result<Option<T>, virt::error::Error> {
    match found {
        Ok(object) => Ok(Some(object)),
        Err(e) if e.code().is(missing) => Ok(None),
        Err(e) => Err(e),
    }
}
