//! `data "rack_apt_packages"`: the packages of a repository or snapshot, all of them or
//! those an aptly package query matches.

use async_trait::async_trait;
use rack_core::apt::PackageSource;
use serde::{Deserialize, Serialize};

use super::shared::{apt_error, server, server_choice};
use crate::framework::schema::{Attribute, Block, Nesting, Schema};
use crate::framework::typed::{self, Planned};
use crate::framework::{Context, DataSource, Diagnostic, Diagnostics, data_answer};
use crate::protocol::value::Value;

/// The data source.
#[derive(Debug, Clone, Copy, Default)]
pub struct AptPackagesData;

#[derive(Debug, Deserialize, Serialize)]
struct PackagesModel {
    server: Planned<Option<String>>,
    repository: Planned<Option<String>>,
    snapshot: Planned<Option<String>>,
    query: Planned<Option<String>>,
    packages: Planned<Option<Vec<PackageData>>>,
}

#[derive(Debug, Deserialize, Serialize)]
struct PackageData {
    key: String,
    name: String,
    version: String,
    architecture: String,
    sha256: String,
    filename: String,
}

#[async_trait]
impl DataSource for AptPackagesData {
    fn type_name(&self) -> &'static str {
        "rack_apt_packages"
    }

    fn schema(&self) -> Schema {
        let package = [
            Attribute::string("key")
                .computed()
                .description("aptly's package key."),
            Attribute::string("name")
                .computed()
                .description("The package's name."),
            Attribute::string("version")
                .computed()
                .description("Its version."),
            Attribute::string("architecture")
                .computed()
                .description("Its architecture."),
            Attribute::string("sha256")
                .computed()
                .description("The sha256 of its .deb."),
            Attribute::string("filename")
                .computed()
                .description("The .deb's file name."),
        ];
        Schema::new(
            Block::new(
                "The packages of a repository or snapshot: every one (from the listing rack \
                 reads once per run), or those an aptly package query matches.",
            )
            .attributes([
                server_choice(),
                Attribute::string("repository")
                    .optional()
                    .description("A local repository's name. Set this or `snapshot`."),
                Attribute::string("snapshot")
                    .optional()
                    .description("A snapshot's aptly name. Set this or `repository`."),
                Attribute::string("query")
                    .optional()
                    .description("An aptly package query, e.g. `Name (hello), $Version (>= 1.1)`."),
                Attribute::nested("packages", Nesting::List, package)
                    .computed()
                    .description("The packages, ordered by key."),
            ]),
        )
    }

    async fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        let set = |a: &str| config.attr(a).is_some_and(|v| !v.is_null());
        if set("repository") == set("snapshot") {
            diags.push(Diagnostic::error(
                "Name a repository or a snapshot",
                "Set exactly one of `repository` and `snapshot`.",
            ));
        }
    }

    async fn read(&self, ctx: &Context, config: Value) -> (Value, Diagnostics) {
        let read = async {
            let mut data: PackagesModel = typed::from_value(&config)?;
            let srv = server(ctx, data.server.value().map(String::as_str))?;
            let from = match (data.repository.value(), data.snapshot.value()) {
                (Some(r), _) => PackageSource::Repo(r),
                (None, Some(s)) => PackageSource::Snapshot(s),
                (None, None) => {
                    return Err(Diagnostic::error(
                        "Name a repository or a snapshot",
                        "Set exactly one of `repository` and `snapshot`.",
                    )
                    .into());
                }
            };
            let found = match data.query.value() {
                Some(q) => srv.client.query(from, q).await,
                None => srv.client.packages(from).await.map(|l| l.as_ref().clone()),
            }
            .map_err(|e| apt_error(&e, "list packages"))?;
            let mut packages: Vec<PackageData> = found
                .into_iter()
                .map(|p| PackageData {
                    key: p.key,
                    name: p.name,
                    version: p.version,
                    architecture: p.architecture,
                    sha256: p.sha256.to_ascii_lowercase(),
                    filename: p.filename,
                })
                .collect();
            packages.sort_by(|a, b| a.key.cmp(&b.key));
            data.packages = Some(packages).into();
            Ok(typed::to_value(&data, &self.schema().value_type())?)
        };
        data_answer(read.await)
    }
}
