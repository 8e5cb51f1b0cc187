//! The configured KVM hypervisors: one [`Hypervisor`] handle per name of the provider
//! block's `hypervisors` map, and the default one. The libvirt family builds them from the
//! provider block; any family that reaches a hypervisor (the DHCP of a libvirt network)
//! finds them here, in the configured clients.

use std::collections::BTreeMap;

use rack_core::dhcp::{DhcpError, HypervisorSource};
use rack_core::libvirt::Hypervisor;

use crate::framework::diag::Diagnostic;

/// The variable that can hold the `hypervisors` map.
pub const ENV_HYPERVISORS: &str = "RACK_HYPERVISORS";
/// The variable that can name the default hypervisor.
pub const ENV_DEFAULT: &str = "RACK_DEFAULT_HYPERVISOR";

/// One configured hypervisor.
#[derive(Debug, Clone)]
pub struct NamedHypervisor {
    /// Its name in the `hypervisors` map.
    pub name: String,
    /// The handle (one connection thread per process, plus the side lane's connections).
    pub handle: Hypervisor,
}

/// Every configured hypervisor. Cheap to clone: the clones share the handles.
#[derive(Debug, Default, Clone)]
pub struct Hypervisors {
    by_name: BTreeMap<String, Hypervisor>,
    default: Option<String>,
}

impl Hypervisors {
    /// The hypervisors `by_name`, with `default` used where a resource names none.
    pub fn new(by_name: BTreeMap<String, Hypervisor>, default: Option<String>) -> Self {
        Self { by_name, default }
    }

    /// The hypervisor named `name`, or the default one when `name` is `None`.
    pub fn get(&self, name: Option<&str>) -> Result<NamedHypervisor, Diagnostic> {
        let wanted = match name {
            Some(n) => n.to_string(),
            None => self.default.clone().ok_or_else(|| {
                if self.by_name.is_empty() {
                    Diagnostic::error(
                        "No hypervisor is configured",
                        format!(
                            "Add `hypervisors = {{ kvm1 = \"qemu:///system\" }}` to the rack \
                             provider block, or set {ENV_HYPERVISORS}."
                        ),
                    )
                } else {
                    Diagnostic::error(
                        "No default hypervisor",
                        format!(
                            "The provider block names {} hypervisors. Set `hypervisor` on \
                             the resource, or `default_hypervisor` (or {ENV_DEFAULT}) on the \
                             provider.",
                            self.by_name.len()
                        ),
                    )
                }
            })?,
        };
        match self.by_name.get(&wanted) {
            Some(handle) => Ok(NamedHypervisor {
                name: wanted,
                handle: handle.clone(),
            }),
            None => {
                let known: Vec<&str> = self.by_name.keys().map(String::as_str).collect();
                Err(Diagnostic::error(
                    format!("Unknown hypervisor {wanted:?}"),
                    format!(
                        "The provider's `hypervisors` map defines {}. Use one of those names \
                         in `hypervisor`.",
                        if known.is_empty() {
                            "no hypervisors".to_string()
                        } else {
                            known.join(", ")
                        }
                    ),
                ))
            }
        }
    }

    /// Every hypervisor, by name.
    pub fn all(&self) -> impl Iterator<Item = NamedHypervisor> + '_ {
        self.by_name.iter().map(|(name, handle)| NamedHypervisor {
            name: name.clone(),
            handle: handle.clone(),
        })
    }

    /// The name of the default hypervisor, if there is one.
    pub fn default_name(&self) -> Option<&str> {
        self.default.as_deref()
    }
}

/// A DHCP server on a libvirt network finds its hypervisor among the configured ones.
impl HypervisorSource for Hypervisors {
    fn hypervisor(&self, name: Option<&str>) -> Result<Hypervisor, DhcpError> {
        self.get(name)
            .map(|h| h.handle)
            .map_err(|d| DhcpError::Hypervisor {
                summary: d.summary,
                detail: d.detail,
            })
    }
}
