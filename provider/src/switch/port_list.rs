//! `list "rack_switch_port"`: the ports of a switch's bridges (without each bridge's own
//! internal port), for `terraform query`.

use async_trait::async_trait;

use super::lists::{item, list_attributes, listed};
use super::port::port_state;
use crate::framework::schema::{Block, Schema};
use crate::framework::{Context, ListRequest, ListResource, ListSink};

/// The list resource.
#[derive(Debug, Clone, Copy, Default)]
pub struct SwitchPortList;

#[async_trait]
impl ListResource for SwitchPortList {
    fn type_name(&self) -> &'static str {
        "rack_switch_port"
    }

    fn schema(&self) -> Schema {
        Schema::new(Block::new("Lists the ports of a switch.").attributes(list_attributes()))
    }

    async fn list(&self, ctx: &Context, req: ListRequest, sink: ListSink) {
        let found = async {
            let (srv, snap, bridges) = listed(ctx, &req.config).await?;
            let items: Vec<_> = bridges
                .iter()
                .flat_map(|b| snap.ports(b))
                .map(|p| {
                    item(
                        req.include_resource,
                        format!("{}/{}", p.bridge, p.spec.name),
                        port_state(&srv.name, &p),
                    )
                })
                .collect();
            sink.send_all(items).await
        };
        sink.finish(found.await).await;
    }
}
