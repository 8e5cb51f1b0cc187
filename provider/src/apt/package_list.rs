//! `list "rack_apt_package"`: the packages of one local repository of an aptly server, or
//! of every one, all of them or those an aptly package query matches, so `terraform query
//! -generate-config-out` can adopt packages uploaded by hand. One listing per repository
//! (one query per repository with `query`), never one call per package. A package's
//! `source_file` is write-only, so the generated configuration has none: it must be added
//! before the import is applied.

use async_trait::async_trait;
use rack_core::apt::PackageSource;
use serde::Deserialize;

use super::lists::{item, listed_server};
use super::package::package_state;
use super::repository::name_validator;
use super::shared::{apt_error, server_choice};
use crate::framework::schema::{Attribute, Block, Schema};
use crate::framework::typed::{self, Planned};
use crate::framework::{Context, ListRequest, ListResource, ListSink};

/// The list resource.
#[derive(Debug, Clone, Copy, Default)]
pub struct AptPackageList;

#[derive(Debug, Deserialize)]
struct ListConfig {
    server: Planned<Option<String>>,
    repository: Planned<Option<String>>,
    query: Planned<Option<String>>,
}

#[async_trait]
impl ListResource for AptPackageList {
    fn type_name(&self) -> &'static str {
        "rack_apt_package"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            Block::new(
                "Lists the packages of the local repositories of an aptly server (one listing \
                 per repository), named by their import ID `<repository>/<key>`. \
                 `source_file` is write-only and aptly cannot give it back, so the generated \
                 configuration has none: add each package's `source_file` (a .deb with the \
                 listed `sha256`) before applying the import.",
            )
            .attributes([
                server_choice(),
                Attribute::string("repository")
                    .optional()
                    .description(
                        "List only this local repository's packages; every local \
                         repository's when omitted.",
                    )
                    .validator(name_validator()),
                Attribute::string("query").optional().description(
                    "List only the packages an aptly package query matches, e.g. \
                     `Name (hello), $Version (>= 1.1)`.",
                ),
            ]),
        )
    }

    async fn list(&self, ctx: &Context, req: ListRequest, sink: ListSink) {
        let found = async {
            let c: ListConfig = typed::from_value(&req.config)?;
            let srv = listed_server(ctx, &c.server).await?;
            let repos = match c.repository.value() {
                Some(r) => vec![r.clone()],
                None => srv
                    .client
                    .repos()
                    .await
                    .map_err(|e| apt_error(&e, "list repositories"))?
                    .iter()
                    .map(|r| r.name.clone())
                    .collect(),
            };
            let mut sent = 0;
            for repo in repos {
                if sent >= req.max_items() {
                    break;
                }
                let from = PackageSource::Repo(&repo);
                let packages = match c.query.value() {
                    Some(q) => srv.client.query(from, q).await,
                    None => srv.client.packages(from).await.map(|l| l.as_ref().clone()),
                };
                // A repository dropped since the listing of repositories is left out.
                if c.repository.value().is_none()
                    && packages.as_ref().is_err_and(|e| e.is_not_found())
                {
                    continue;
                }
                let mut packages =
                    packages.map_err(|e| apt_error(&e, &format!("list repository {repo:?}")))?;
                packages.sort_by(|a, b| a.key.cmp(&b.key));
                packages.truncate(req.max_items() - sent);
                sent += packages.len();
                let items: Vec<_> = packages
                    .iter()
                    .map(|p| {
                        item(
                            req.include_resource,
                            format!("{repo}/{}", p.key),
                            package_state(&srv.name, &repo, p),
                        )
                    })
                    .collect();
                sink.send_all(items).await?;
            }
            Ok(())
        };
        sink.finish(found.await).await;
    }
}
