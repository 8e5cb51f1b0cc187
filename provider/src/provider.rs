//! The `rack` provider: its configuration block and everything it offers, put together
//! from the resource families in [`families`].

use std::sync::Arc;

use async_trait::async_trait;

use crate::config::{Configured, Family};
use crate::framework::schema::{Block, Schema};
use crate::framework::{
    DataSource, Diagnostics, Function, ListResource, Provider, ProviderData, Resource,
};
use crate::protocol::value::Value;
use crate::{apt, boot, dhcp, dns, functions, libvirt, switch};

/// Provider type name, as in `provider "rack" {}` and `provider::rack::...`.
pub const TYPE_NAME: &str = "rack";

/// Provider source address used in examples and tests.
pub const SOURCE_ADDRESS: &str = "terraform.local/rack/rack";

/// The resource families, in the order they are configured: the libvirt family first,
/// since a DHCP server may be a libvirt network on one of its hypervisors.
pub fn families() -> Vec<Family> {
    vec![
        libvirt::family(),
        dns::family(),
        dhcp::family(),
        switch::family(),
        boot::family(),
        apt::family(),
    ]
}

/// The rack provider.
#[derive(Debug, Default, Clone, Copy)]
pub struct RackProvider;

#[async_trait]
impl Provider for RackProvider {
    fn schema(&self) -> Schema {
        Schema::new(
            Block::new(
                "Manages a data-centre zone as code, through the services the team already runs \
             (BIND or any RFC 2136 server, Kea, libvirt). Every setting of this block can \
             also come from the environment variable named in its description. The provider \
             functions need no configuration.",
            )
            .attributes(families().into_iter().flat_map(|f| f.attributes))
            .blocks(families().into_iter().flat_map(|f| f.blocks)),
        )
    }

    async fn configure(&self, config: Value, diags: &mut Diagnostics) -> Option<ProviderData> {
        let lookup = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let mut clients = Configured::default();
        for family in families() {
            (family.configure)(&config, &lookup, diags, &mut clients);
        }
        Some(Arc::new(clients))
    }

    fn resources(&self) -> Vec<Arc<dyn Resource>> {
        families().into_iter().flat_map(|f| f.resources).collect()
    }

    fn data_sources(&self) -> Vec<Arc<dyn DataSource>> {
        families()
            .into_iter()
            .flat_map(|f| f.data_sources)
            .collect()
    }

    fn list_resources(&self) -> Vec<Arc<dyn ListResource>> {
        families()
            .into_iter()
            .flat_map(|f| f.list_resources)
            .collect()
    }

    fn functions(&self) -> Vec<Arc<dyn Function>> {
        functions::all()
    }
}
