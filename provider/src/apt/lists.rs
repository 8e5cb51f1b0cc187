//! The list resources for `terraform query`: repositories, snapshots and publications of
//! an aptly server, read fresh (packages: `package_list.rs`).

use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;

use super::provider_block::AptServer;
use super::publication::publication_state;
use super::repository::repo_state;
use super::shared::{apt_error, server, server_choice};
use super::snapshot::listed_state;
use crate::framework::schema::{Block, Schema};
use crate::framework::typed::{self, Planned};
use crate::framework::{Context, Diagnostic, ListItem, ListRequest, ListResource, ListSink};
use crate::protocol::value::Value;

#[derive(Debug, Deserialize)]
struct ListConfig {
    server: Planned<Option<String>>,
}

/// The server a list block names, its listings dropped so the list reads aptly fresh.
async fn listed(ctx: &Context, config: &Value) -> Result<Arc<AptServer>, Diagnostic> {
    let c: ListConfig = typed::from_value(config)?;
    listed_server(ctx, &c.server).await
}

/// The server named `name` (or the default), its listings dropped so the list reads
/// aptly fresh.
pub(super) async fn listed_server(
    ctx: &Context,
    name: &Planned<Option<String>>,
) -> Result<Arc<AptServer>, Diagnostic> {
    let srv = server(ctx, name.value().map(String::as_str))?;
    srv.client.invalidate().await;
    Ok(srv)
}

/// A found object as a list item: its display name, identity and (when asked for) state.
pub(super) fn item(
    include: bool,
    display_name: String,
    answer: Result<(Value, Value), Diagnostic>,
) -> Result<ListItem, Diagnostic> {
    let (state, identity) = answer?;
    Ok(ListItem {
        identity,
        display_name,
        resource: include.then_some(state),
    })
}

fn schema(what: &str) -> Schema {
    Schema::new(
        Block::new(format!("Lists the {what} of an aptly server.")).attributes([server_choice()]),
    )
}

/// `list "rack_apt_repository"`.
#[derive(Debug, Clone, Copy, Default)]
pub struct AptRepositoryList;

#[async_trait]
impl ListResource for AptRepositoryList {
    fn type_name(&self) -> &'static str {
        "rack_apt_repository"
    }

    fn schema(&self) -> Schema {
        schema("local repositories")
    }

    async fn list(&self, ctx: &Context, req: ListRequest, sink: ListSink) {
        let found = async {
            let srv = listed(ctx, &req.config).await?;
            let repos = srv
                .client
                .repos()
                .await
                .map_err(|e| apt_error(&e, "list repositories"))?;
            let items: Vec<_> = repos
                .iter()
                .map(|r| {
                    item(
                        req.include_resource,
                        r.name.clone(),
                        repo_state(&srv.name, r),
                    )
                })
                .collect();
            sink.send_all(items).await
        };
        sink.finish(found.await).await;
    }
}

/// `list "rack_apt_snapshot"`.
#[derive(Debug, Clone, Copy, Default)]
pub struct AptSnapshotList;

#[async_trait]
impl ListResource for AptSnapshotList {
    fn type_name(&self) -> &'static str {
        "rack_apt_snapshot"
    }

    fn schema(&self) -> Schema {
        schema("snapshots")
    }

    async fn list(&self, ctx: &Context, req: ListRequest, sink: ListSink) {
        let found = async {
            let srv = listed(ctx, &req.config).await?;
            let snaps = srv
                .client
                .snapshots()
                .await
                .map_err(|e| apt_error(&e, "list snapshots"))?;
            let items: Vec<_> = snaps
                .iter()
                .map(|s| {
                    item(
                        req.include_resource,
                        s.name.clone(),
                        listed_state(&srv.name, s),
                    )
                })
                .collect();
            sink.send_all(items).await
        };
        sink.finish(found.await).await;
    }
}

/// `list "rack_apt_publication"`.
#[derive(Debug, Clone, Copy, Default)]
pub struct AptPublicationList;

#[async_trait]
impl ListResource for AptPublicationList {
    fn type_name(&self) -> &'static str {
        "rack_apt_publication"
    }

    fn schema(&self) -> Schema {
        schema("publications")
    }

    async fn list(&self, ctx: &Context, req: ListRequest, sink: ListSink) {
        let found = async {
            let srv = listed(ctx, &req.config).await?;
            let pubs = srv
                .client
                .publications()
                .await
                .map_err(|e| apt_error(&e, "list publications"))?;
            let items: Vec<_> = pubs
                .iter()
                .map(|p| {
                    item(
                        req.include_resource,
                        format!("{}/{}", p.prefix, p.distribution),
                        publication_state(&srv.name, p, None),
                    )
                })
                .collect();
            sink.send_all(items).await
        };
        sink.finish(found.await).await;
    }
}
