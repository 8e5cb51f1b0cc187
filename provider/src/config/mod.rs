//! The provider's configuration, below the resource families: the [`Family`] each family
//! returns to register its provider-block section, resources, data sources and
//! list resources; the [`Configured`] clients that `configure` builds, one typed entry
//! per family; and what several families share (named servers, hypervisor handles).
//!
//! A family finds its own clients with [`clients`]; nothing here knows a family.

pub mod hypervisors;
pub mod servers;

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::Arc;

use crate::framework::resource::not_configured;
use crate::framework::schema::{Attribute, NestedBlock};
use crate::framework::{Context, DataSource, Diagnostic, Diagnostics, ListResource, Resource};
use crate::protocol::value::Value;

/// Reads an environment variable; empty values count as unset.
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Builds a family's clients from the provider block's value (`config`, the whole block)
/// and stores them in `clients`; problems go to `diags`, at their attribute. Families
/// registered earlier have stored theirs already.
pub type Configure =
    fn(config: &Value, lookup: Lookup<'_>, diags: &mut Diagnostics, clients: &mut Configured);

/// One resource family (`dns`, `dhcp`, `libvirt`): what it adds to the provider, which
/// puts the families together in the order they are registered.
pub struct Family {
    /// The family's attributes of the provider block.
    pub attributes: Vec<Attribute>,
    /// The family's blocks of the provider block.
    pub blocks: Vec<NestedBlock>,
    /// How the family's clients are built.
    pub configure: Configure,
    /// The family's managed resources.
    pub resources: Vec<Arc<dyn Resource>>,
    /// The family's data sources.
    pub data_sources: Vec<Arc<dyn DataSource>>,
    /// The family's list resources.
    pub list_resources: Vec<Arc<dyn ListResource>>,
}

impl Default for Family {
    fn default() -> Self {
        Self {
            attributes: Vec::new(),
            blocks: Vec::new(),
            configure: |_, _, _, _| {},
            resources: Vec::new(),
            data_sources: Vec::new(),
            list_resources: Vec::new(),
        }
    }
}

/// What the provider keeps after `configure`: the configured clients of every family,
/// one value per type.
#[derive(Debug, Default)]
pub struct Configured {
    by_type: HashMap<TypeId, Arc<dyn Any + Send + Sync>>,
}

impl Configured {
    /// Stores `value`, replacing any earlier value of its type.
    pub fn insert<T: Any + Send + Sync>(&mut self, value: T) {
        self.by_type.insert(TypeId::of::<T>(), Arc::new(value));
    }

    /// The stored value of type `T`.
    pub fn get<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        self.by_type
            .get(&TypeId::of::<T>())
            .and_then(|v| Arc::clone(v).downcast::<T>().ok())
    }
}

/// The configured clients of type `T`, from the provider that `ctx` carries.
pub fn clients<T: Any + Send + Sync>(ctx: &Context) -> Result<Arc<T>, Diagnostic> {
    ctx.provider_data::<Configured>()?
        .get::<T>()
        .ok_or_else(not_configured)
}

/// An environment of `pairs` only, for tests of `configure`.
#[cfg(test)]
pub fn fixed_env(
    pairs: &'static [(&'static str, &'static str)],
) -> impl Fn(&str) -> Option<String> {
    move |k| {
        pairs
            .iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_value_per_type() {
        let mut c = Configured::default();
        c.insert(7_u32);
        c.insert(String::from("a"));
        c.insert(8_u32);
        assert_eq!(c.get::<u32>().as_deref(), Some(&8));
        assert_eq!(c.get::<String>().as_deref().map(String::as_str), Some("a"));
        assert!(c.get::<u64>().is_none());
    }
}
