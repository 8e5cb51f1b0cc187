//! `data "rack_boot_file"`: a file of a provisioning server as machines fetch it (its
//! URL, hash, size, and text when it has one), whoever put it there.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::shared::{boot_path, path_validator, remote, server, server_attribute};
use crate::framework::schema::{Attribute, Block, Schema};
use crate::framework::typed;
use crate::framework::{Context, DataSource, Diagnostic, Diagnostics, data_answer};
use crate::protocol::value::Value;

/// The data source.
#[derive(Debug, Clone, Copy, Default)]
pub struct BootFileData;

#[derive(Debug, Deserialize, Serialize)]
struct FileData {
    server: Option<String>,
    path: String,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    sha256: Option<String>,
    #[serde(default)]
    size: Option<u64>,
    #[serde(default)]
    content: Option<String>,
}

#[async_trait]
impl DataSource for BootFileData {
    fn type_name(&self) -> &'static str {
        "rack_boot_file"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            Block::new(
                "Reads a file of a provisioning server with GET, as a booting machine would; \
                 fails when there is none.",
            )
            .attributes([
                server_attribute(false),
                Attribute::string("path")
                    .required()
                    .description("The file's path below the server's URL, e.g. `ztp/tor1.sh`.")
                    .validator(path_validator()),
                Attribute::string("url")
                    .computed()
                    .description("The URL machines fetch the file from."),
                Attribute::string("sha256")
                    .computed()
                    .description("SHA-256 of the content, lower-case hex."),
                Attribute::number("size")
                    .computed()
                    .description("The content's size in bytes."),
                Attribute::string("content").computed().description(
                    "The content, when it is UTF-8 text of at most 1 MiB; null otherwise.",
                ),
            ]),
        )
    }

    async fn read(&self, ctx: &Context, config: Value) -> (Value, Diagnostics) {
        let read = async {
            let mut d: FileData = typed::from_value(&config)?;
            let path = boot_path(&d.path)?;
            let srv = server(ctx, d.server.as_deref())?;
            let url = srv.client.public_url(&path);
            let r = remote(&srv, &path).await?.ok_or_else(|| {
                Diagnostic::error(
                    format!("No file at {url}"),
                    format!(
                        "Provisioning server {:?} has no file {path} (HTTP 404).",
                        srv.name
                    ),
                )
            })?;
            d.url = Some(url);
            d.sha256 = Some(r.sha256.clone());
            d.size = Some(r.size);
            d.content = r.text.clone();
            Ok(typed::to_value(&d, &self.schema().value_type())?)
        };
        data_answer(read.await)
    }
}
