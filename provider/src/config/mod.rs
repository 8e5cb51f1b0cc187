//! The provider's configuration, below the resource families: the [`Family`] trait each
//! family implements to register its provider-block section, resources, data sources and
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

/// One resource family (`dns`, `dhcp`, `libvirt`): what it adds to the provider. The
/// provider calls each family's methods in the order the families are registered.
pub trait Family: Send + Sync {
    /// The family's attributes of the provider block.
    fn attributes(&self) -> Vec<Attribute> {
        Vec::new()
    }

    /// The family's blocks of the provider block.
    fn blocks(&self) -> Vec<NestedBlock> {
        Vec::new()
    }

    /// Builds the family's clients from the provider block's value (`config`, the whole
    /// block) and stores them in `clients`; problems go to `diags`, at their attribute.
    /// Families registered earlier have stored theirs already.
    fn configure(
        &self,
        config: &Value,
        lookup: Lookup<'_>,
        diags: &mut Diagnostics,
        clients: &mut Configured,
    );

    /// The family's managed resources.
    fn resources(&self) -> Vec<Arc<dyn Resource>> {
        Vec::new()
    }

    /// The family's data sources.
    fn data_sources(&self) -> Vec<Arc<dyn DataSource>> {
        Vec::new()
    }

    /// The family's list resources.
    fn list_resources(&self) -> Vec<Arc<dyn ListResource>> {
        Vec::new()
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
