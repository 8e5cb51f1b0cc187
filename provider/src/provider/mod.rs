//! The `rack` provider: its configuration block and everything it offers.

use std::sync::Arc;

use async_trait::async_trait;

use crate::framework::schema::{Block, Schema};
use crate::framework::{Diagnostics, Function, Provider, ProviderData};
use crate::functions;
use crate::protocol::value::Value;

/// Provider type name, as in `provider "rack" {}` and `provider::rack::...`.
pub const TYPE_NAME: &str = "rack";

/// Provider source address used in examples and tests.
pub const SOURCE_ADDRESS: &str = "terraform.local/rack/rack";

/// What the provider keeps after `configure`, shared by every resource.
#[derive(Debug, Default)]
pub struct RackConfig {}

/// The rack provider.
#[derive(Debug, Default, Clone, Copy)]
pub struct RackProvider;

#[async_trait]
impl Provider for RackProvider {
    fn schema(&self) -> Schema {
        Schema::new(Block::new(
            "Manages a data-centre zone as code, through the services the team already runs \
             (BIND or any RFC 2136 server, Kea, libvirt). Every setting of this block can \
             also come from the environment variable named in its description. The provider \
             functions need no configuration.",
        ))
    }

    async fn configure(&self, _config: Value, _diags: &mut Diagnostics) -> Option<ProviderData> {
        Some(Arc::new(RackConfig::default()))
    }

    fn functions(&self) -> Vec<Arc<dyn Function>> {
        functions::all()
    }
}
