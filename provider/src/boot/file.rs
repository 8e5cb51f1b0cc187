//! `rack_boot_file`: a file on a provisioning server (a ZTP script, a `ztp.json`, an iPXE
//! script, a preseed, a kernel or an initrd), written with WebDAV PUT, read back with GET
//! to see changes made on the server, removed with DELETE.
//!
//! The content is `content` (text in the configuration) or `source_file` (a local file).
//! `sha256` is what the plan compares: planned from `content`, or from `source_file`
//! hashed at plan time, and checked against the `sha256` the configuration gives.

use async_trait::async_trait;
use rack_core::boot::{BootPath, Remote, sha256_hex};
use serde::{Deserialize, Serialize};

use super::shared::{
    boot_error, boot_path, path_validator, plan_server, remote, server, server_attribute,
};
use crate::framework::attrs::obj_set;
use crate::framework::plan::PlannedChange;
use crate::framework::schema::{Attribute, Block, IdentityAttribute, IdentitySchema, Schema};
use crate::framework::typed::{self, Planned};
use crate::framework::validate::check;
use crate::framework::{
    ApplyRequest, AttributePath, Context, DeleteRequest, Diagnostic, Diagnostics, ImportRequest,
    PlanRequest, ReadRequest, Resource, StateResult,
};
use crate::protocol::value::Value;

/// The resource.
#[derive(Debug, Clone, Copy, Default)]
pub struct BootFile;

/// The file's attributes.
#[derive(Debug, Default, Deserialize, Serialize)]
pub(crate) struct FileModel {
    server: Planned<Option<String>>,
    path: Planned<Option<String>>,
    content: Planned<Option<String>>,
    source_file: Planned<Option<String>>,
    sha256: Planned<Option<String>>,
    url: Planned<Option<String>>,
    id: Planned<Option<String>>,
}

impl FileModel {
    fn server(&self) -> Option<&str> {
        self.server.value().map(String::as_str)
    }

    fn path(&self) -> Result<BootPath, Diagnostic> {
        boot_path(self.path.value().ok_or_else(unknown_at_apply)?)
    }

    /// A file read from the server, as import writes it: its text as `content` when it
    /// has one.
    pub(super) fn of(server: &str, path: &BootPath, url: String, r: &Remote) -> Self {
        Self {
            server: Some(server.to_owned()).into(),
            path: Some(path.to_string()).into(),
            content: r.text.clone().into(),
            source_file: None.into(),
            sha256: Some(r.sha256.clone()).into(),
            url: Some(url).into(),
            id: Some(path.to_string()).into(),
        }
    }
}

fn unknown_at_apply() -> Diagnostic {
    Diagnostic::error(
        "Unknown values at apply",
        "This is a bug in the provider; please report it.",
    )
}

pub(super) fn identity(server: &str, path: &str) -> Value {
    Value::object([("server", Value::from(server)), ("path", Value::from(path))])
}

fn written(m: &FileModel) -> Result<StateResult, Diagnostics> {
    let state = typed::to_value(m, &BootFile.schema().value_type())?;
    Ok(StateResult {
        state,
        identity: Some(identity(
            m.server().unwrap_or_default(),
            m.path.value().map(String::as_str).unwrap_or_default(),
        )),
        ..StateResult::default()
    })
}

/// The content of `source_file`, or a diagnostic at `source_file`.
async fn read_source(file: &str) -> Result<Vec<u8>, Diagnostic> {
    tokio::fs::read(file).await.map_err(|e| {
        Diagnostic::error(
            format!("Cannot read source_file {file:?}"),
            format!("{e}. Give the path of a readable local file."),
        )
        .at(AttributePath::attr("source_file"))
    })
}

/// What the file's content is: `content` or `source_file`'s, and which attribute gave it.
async fn content_of(m: &FileModel) -> Result<Option<(Vec<u8>, &'static str)>, Diagnostic> {
    Ok(match (&m.content, &m.source_file) {
        (Planned::Known(Some(c)), _) => Some((c.as_bytes().to_vec(), "content")),
        (Planned::Known(None), Planned::Known(Some(f))) => {
            Some((read_source(f).await?, "source_file"))
        }
        _ => None,
    })
}

fn mismatch(given: &str, actual: &str, from: &str) -> Diagnostic {
    let hint = if from == "source_file" {
        "Use `sha256 = filesha256(...)` of the same file, or leave `sha256` out to have rack \
         hash the file."
    } else {
        "Use `sha256 = sha256(...)` of the same text, or leave `sha256` out."
    };
    Diagnostic::error(
        format!("sha256 does not match {from}"),
        format!("{from} has SHA-256 {actual}, `sha256` says {given}. {hint}"),
    )
    .at(AttributePath::attr("sha256"))
}

#[async_trait]
impl Resource for BootFile {
    fn type_name(&self) -> &'static str {
        "rack_boot_file"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            Block::new(
                "A file on a provisioning server, for machines that bootstrap over HTTP: a \
                 switch's ZTP script or `ztp.json`, an iPXE script, a preseed, a kernel or an \
                 initrd. rack writes it with WebDAV PUT (the server publishes it whole: no \
                 client ever fetches half a file), reads it back with GET to show changes \
                 made on the server, and removes it with DELETE. Give its content as \
                 `content` or `source_file`.",
            )
            .attributes([
                server_attribute(true),
                Attribute::string("path")
                    .required()
                    .requires_replace()
                    .description(
                        "Where the file goes, relative to the server's `url`, e.g. `ztp/tor1.sh`.",
                    )
                    .validator(path_validator()),
                Attribute::string("content")
                    .optional()
                    .description("The file's content, as text. Conflicts with `source_file`."),
                Attribute::string("source_file").optional().description(
                    "A local file to upload (a kernel, an initrd), read at plan time to \
                     hash it and at apply time to send it. Conflicts with `content`.",
                ),
                Attribute::string("sha256")
                    .optional()
                    .computed()
                    .description(
                        "SHA-256 of the content, lower-case hex. Computed from `content` or \
                         `source_file` at plan time; when given (e.g. `filesha256(...)`), it \
                         must match. A change on the server shows here.",
                    )
                    .validator(check(
                        "64 lower-case hex digits.",
                        "Invalid sha256",
                        |v| match v.as_str() {
                            Some(s)
                                if s.len() != 64
                                    || !s.bytes().all(|b| {
                                        b.is_ascii_digit() || (b'a'..=b'f').contains(&b)
                                    }) =>
                            {
                                Err(format!("{s:?} is not 64 lower-case hex digits."))
                            }
                            _ => Ok(()),
                        },
                    )),
                Attribute::string("url").computed().description(
                    "The URL machines fetch the file from: the server's `public_url` (or \
                     `url`) and `path`. Use it in DHCP options and kernel command lines.",
                ),
                Attribute::string("id")
                    .computed()
                    .description("`path`; the import ID is `[<server>:]<path>`."),
            ]),
        )
    }

    fn identity_schema(&self) -> Option<IdentitySchema> {
        Some(IdentitySchema {
            version: 0,
            attributes: vec![
                IdentityAttribute::optional_string(
                    "server",
                    "Provisioning server name; the default server when omitted.",
                ),
                IdentityAttribute::required_string(
                    "path",
                    "The file's path below the server's URL.",
                ),
            ],
        })
    }

    async fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        let Ok(m) = typed::from_value::<FileModel>(config) else {
            return;
        };
        match (&m.content, &m.source_file) {
            (Planned::Known(Some(_)), Planned::Known(Some(_))) => diags.error_at(
                AttributePath::attr("source_file"),
                "content and source_file conflict",
                "Give the file's content as `content` or as `source_file`, not both.",
            ),
            (Planned::Known(None), Planned::Known(None)) => diags.error_at(
                AttributePath::attr("content"),
                "No content",
                "Set `content` (text) or `source_file` (a local file).",
            ),
            _ => {}
        }
    }

    async fn modify_plan(&self, ctx: &Context, req: PlanRequest<'_>, plan: &mut PlannedChange) {
        if plan.planned.is_null() {
            return;
        }
        plan_server(ctx, &mut plan.planned);
        let config: FileModel = match typed::from_value(req.config) {
            Ok(m) => m,
            Err(d) => return plan.diags.push(d),
        };
        if let Some(p) = config.path.value() {
            obj_set(&mut plan.planned, "id", Value::from(p.as_str()));
            let name = plan.planned.attr("server").and_then(Value::as_str);
            let known = plan.planned.attr("server").is_some_and(|v| !v.is_unknown());
            if let (true, Ok(bp), Ok(srv)) = (known, BootPath::parse(p), server(ctx, name)) {
                obj_set(
                    &mut plan.planned,
                    "url",
                    Value::from(srv.client.public_url(&bp)),
                );
            }
        }
        match content_of(&config).await {
            Ok(Some((bytes, from))) => {
                let actual = sha256_hex(&bytes);
                if let Some(given) = config.sha256.value()
                    && *given != actual
                {
                    plan.diags.push(mismatch(given, &actual, from));
                }
                obj_set(&mut plan.planned, "sha256", Value::from(actual));
            }
            Ok(None) if config.sha256.value().is_none() => {
                obj_set(&mut plan.planned, "sha256", Value::Unknown);
            }
            Ok(None) => {}
            Err(d) => plan.diags.push(d),
        }
    }

    async fn create(&self, ctx: &Context, req: ApplyRequest) -> StateResult {
        StateResult::or_failed(put(ctx, &req).await, Value::Null)
    }

    async fn read(&self, ctx: &Context, req: ReadRequest) -> StateResult {
        let state = req.state;
        let read = async {
            let mut m: FileModel = typed::from_value(&state)?;
            let path = m.path()?;
            let srv = server(ctx, m.server())?;
            let Some(r) = remote(&srv, &path).await? else {
                return Ok(StateResult::default());
            };
            if m.sha256.value() != Some(&r.sha256) {
                m.sha256 = Some(r.sha256.clone()).into();
                if m.content.value().is_some() {
                    m.content = r.text.clone().into();
                }
            }
            m.server = Some(srv.name.clone()).into();
            m.url = Some(srv.client.public_url(&path)).into();
            written(&m)
        };
        let read = read.await;
        StateResult::or_failed(read, state)
    }

    async fn update(&self, ctx: &Context, req: ApplyRequest) -> StateResult {
        let prior = req.prior.clone();
        StateResult::or_failed(put(ctx, &req).await, prior)
    }

    async fn delete(&self, ctx: &Context, req: DeleteRequest) -> Diagnostics {
        let removed = async {
            let m: FileModel = typed::from_value(&req.prior)?;
            let path = m.path()?;
            let srv = server(ctx, m.server())?;
            srv.client
                .delete(&path)
                .await
                .map_err(|e| boot_error(&e, &format!("delete {}", srv.client.public_url(&path))))?;
            Ok::<_, Diagnostics>(())
        };
        removed.await.err().unwrap_or_default()
    }

    async fn import(&self, ctx: &Context, req: ImportRequest) -> StateResult {
        let imported = async {
            let (name, path) = match &req {
                ImportRequest::Id(id) => match id.split_once(':') {
                    Some((s, p)) if !s.is_empty() => (Some(s.to_owned()), p.to_owned()),
                    _ => (None, id.clone()),
                },
                ImportRequest::Identity(v) => {
                    let t: ImportTarget = typed::from_value(v)?;
                    (t.server, t.path)
                }
            };
            let path = BootPath::parse(&path).map_err(|e| {
                Diagnostic::invalid_import_id(
                    &path,
                    format!(
                        "{e}. Use `<path>`, e.g. `ztp/tor1.sh`, or `<server>:<path>` for \
                         another server than the default."
                    ),
                )
            })?;
            let srv = server(ctx, name.as_deref())?;
            srv.client.invalidate(&path);
            let url = srv.client.public_url(&path);
            let r = remote(&srv, &path).await?.ok_or_else(|| {
                Diagnostic::error(
                    format!("No file at {url}"),
                    format!(
                        "Provisioning server {:?} has no file {path}; check the path.",
                        srv.name
                    ),
                )
            })?;
            written(&FileModel::of(&srv.name, &path, url, &r))
        };
        StateResult::or_failed(imported.await, Value::Null)
    }
}

/// What an import by identity names.
#[derive(Debug, Deserialize)]
struct ImportTarget {
    server: Option<String>,
    path: String,
}

/// Create and update: the planned content, checked against the planned hash, written.
async fn put(ctx: &Context, req: &ApplyRequest) -> Result<StateResult, Diagnostics> {
    let mut m: FileModel = typed::from_value(&req.planned)?;
    let path = m.path()?;
    let srv = server(ctx, m.server())?;
    let (bytes, from) = content_of(&m).await?.ok_or_else(unknown_at_apply)?;
    let actual = sha256_hex(&bytes);
    if let Some(planned) = m.sha256.value()
        && *planned != actual
    {
        return Err(Diagnostic::error(
            format!("{from} changed since the plan"),
            format!(
                "The plan wrote SHA-256 {planned}, the content is now {actual}. Run \
                 `terraform plan` again."
            ),
        )
        .at(AttributePath::attr(from))
        .into());
    }
    let url = srv.client.public_url(&path);
    let written_file = srv
        .client
        .put(&path, bytes)
        .await
        .map_err(|e| boot_error(&e, &format!("write {url}")))?;
    m.server = Some(srv.name.clone()).into();
    m.sha256 = Some(written_file.sha256.clone()).into();
    m.url = Some(url).into();
    m.id = Some(path.to_string()).into();
    written(&m)
}
