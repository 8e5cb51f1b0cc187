//! `list "rack_switch_bridge"`: a switch's bridges, for `terraform query`.

use async_trait::async_trait;

use super::bridge::bridge_state;
use super::lists::{item, list_attributes, listed};
use crate::framework::schema::{Block, Schema};
use crate::framework::{Context, ListRequest, ListResource, ListSink};

/// The list resource.
#[derive(Debug, Clone, Copy, Default)]
pub struct SwitchBridgeList;

#[async_trait]
impl ListResource for SwitchBridgeList {
    fn type_name(&self) -> &'static str {
        "rack_switch_bridge"
    }

    fn schema(&self) -> Schema {
        Schema::new(Block::new("Lists the bridges of a switch.").attributes(list_attributes()))
    }

    async fn list(&self, ctx: &Context, req: ListRequest, sink: ListSink) {
        let found = async {
            let (srv, snap, bridges) = listed(ctx, &req.config).await?;
            let items: Vec<_> = bridges
                .iter()
                .filter_map(|b| snap.bridge(b))
                .map(|b| {
                    item(
                        req.include_resource,
                        b.spec.name.clone(),
                        bridge_state(&srv.name, &b),
                    )
                })
                .collect();
            sink.send_all(items).await
        };
        sink.finish(found.await).await;
    }
}
