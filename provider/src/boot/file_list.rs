//! `list "rack_boot_file"`: every file of a provisioning server (or of one directory of
//! it), found through the server's JSON directory listings, so `terraform query
//! -generate-config-out` can adopt files put there by hand. With the full objects asked
//! for, each file is read (one GET) as import reads it: text files come with their
//! `content`; others (not UTF-8, or over 1 MiB) with their `sha256` only, and need a
//! `source_file` in the generated configuration.

use async_trait::async_trait;
use futures::StreamExt;
use rack_core::boot::Listed;
use serde::Deserialize;

use super::file::{BootFile, FileModel, identity};
use super::shared::{boot_error, boot_path, path_validator, remote, server, server_attribute};
use crate::framework::Resource;
use crate::framework::schema::{Attribute, Block, Schema};
use crate::framework::typed::{self, Planned};
use crate::framework::{Context, Diagnostic, ListItem, ListRequest, ListResource, ListSink};

/// Files read at once when the full objects are asked for.
const READS_IN_FLIGHT: usize = 8;

/// The list resource.
#[derive(Debug, Clone, Copy, Default)]
pub struct BootFileList;

#[derive(Debug, Deserialize)]
struct ListConfig {
    server: Planned<Option<String>>,
    directory: Planned<Option<String>>,
}

#[async_trait]
impl ListResource for BootFileList {
    fn type_name(&self) -> &'static str {
        "rack_boot_file"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            Block::new(
                "Lists the files of a provisioning server, walking its directories through \
                 their JSON listings (one GET per directory). The server must list \
                 directories to rack's user: with nginx, `autoindex on; autoindex_format \
                 json;` for URLs ending in `/`, behind the same `auth_basic` as writes. \
                 Files whose names are not paths rack writes (see `path`) are left out.",
            )
            .attributes([
                server_attribute(false),
                Attribute::string("directory")
                    .optional()
                    .description(
                        "List only below this directory, relative to the server's `url`, \
                         e.g. `ztp`; the whole server when omitted.",
                    )
                    .validator(path_validator()),
            ]),
        )
    }

    async fn list(&self, ctx: &Context, req: ListRequest, sink: ListSink) {
        let found = async {
            let c: ListConfig = typed::from_value(&req.config)?;
            let srv = server(ctx, c.server.value().map(String::as_str))?;
            let dir = c.directory.value().map(|d| boot_path(d)).transpose()?;
            let mut files =
                srv.client.list(dir.as_ref()).await.map_err(|e| {
                    boot_error(&e, &format!("list the files of server {:?}", srv.name))
                })?;
            // Files past the limit are not read.
            files.truncate(req.max_items());
            let item = |l: Listed| {
                let srv = srv.clone();
                async move {
                    let resource = if req.include_resource {
                        srv.client.invalidate(&l.path);
                        let url = srv.client.public_url(&l.path);
                        let Some(r) = remote(&srv, &l.path).await? else {
                            return Ok(None);
                        };
                        let m = FileModel::of(&srv.name, &l.path, url, &r);
                        Some(typed::to_value(&m, &BootFile.schema().value_type())?)
                    } else {
                        None
                    };
                    Ok::<_, Diagnostic>(Some(ListItem {
                        identity: identity(&srv.name, l.path.as_str()),
                        display_name: format!("{} ({} bytes)", l.path, l.size),
                        resource,
                    }))
                }
            };
            let items: Vec<_> = futures::stream::iter(files)
                .map(item)
                .buffered(READS_IN_FLIGHT)
                .collect()
                .await;
            // A file deleted between the listing and its read is left out.
            sink.send_all(items.into_iter().filter_map(Result::transpose))
                .await
        };
        sink.finish(found.await).await;
    }
}
