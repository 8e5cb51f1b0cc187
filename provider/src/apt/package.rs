//! `rack_apt_package`: one .deb from the machine running Terraform, uploaded into a
//! repository. Its path (`source_file`) is write-only: what state keeps of the file is its
//! sha256, which aptly reports too, so an imported package plans empty against the same
//! file. A file with other content replaces it; another repository moves it in place;
//! destroy removes it from the repository.

use std::path::Path;

use async_trait::async_trait;
use rack_core::apt::{LocalDeb, Package, PackageSource, read_deb};
use serde::{Deserialize, Serialize};

use super::repository::name_validator;
use super::shared::{
    apt_error, deleted, import_target, known, plan_server, server_attribute, server_of,
    unknown_at_apply, written,
};
use crate::framework::attrs::obj_set;
use crate::framework::plan::PlannedChange;
use crate::framework::schema::{Attribute, Block, IdentityAttribute, IdentitySchema, Schema};
use crate::framework::typed::{self, Planned};
use crate::framework::{
    ApplyRequest, AttributePath, Context, DeleteRequest, Diagnostic, Diagnostics, ImportRequest,
    PlanRequest, ReadRequest, Resource, StateResult,
};
use crate::protocol::value::Value;

/// The resource.
#[derive(Debug, Clone, Copy, Default)]
pub struct AptPackage;

/// The package's attributes.
#[derive(Debug, Deserialize, Serialize)]
pub(crate) struct PackageModel {
    server: Planned<Option<String>>,
    repository: Planned<Option<String>>,
    source_file: Planned<Option<String>>,
    sha256: Planned<Option<String>>,
    key: Planned<Option<String>>,
    name: Planned<Option<String>>,
    version: Planned<Option<String>>,
    architecture: Planned<Option<String>>,
    id: Planned<Option<String>>,
}

impl PackageModel {
    fn of(server: &str, repo: &str, p: &Package) -> Self {
        Self {
            server: Some(server.to_owned()).into(),
            repository: Some(repo.to_owned()).into(),
            source_file: Planned::Known(None),
            sha256: Some(p.sha256.to_ascii_lowercase()).into(),
            key: Some(p.key.clone()).into(),
            name: Some(p.name.clone()).into(),
            version: Some(p.version.clone()).into(),
            architecture: Some(p.architecture.clone()).into(),
            id: Some(format!("{repo}/{}", p.key)).into(),
        }
    }
}

/// The state and identity of package `p` of `repo`.
pub(crate) fn package_state(
    server: &str,
    repo: &str,
    p: &Package,
) -> Result<(Value, Value), Diagnostic> {
    let state = typed::to_value(
        &PackageModel::of(server, repo, p),
        &AptPackage.schema().value_type(),
    )?;
    let identity = Value::object([
        ("server", Value::from(server)),
        ("repository", Value::from(repo)),
        ("key", Value::from(p.key.as_str())),
    ]);
    Ok((state, identity))
}

/// The configured file, read at apply and checked against the planned `sha256`; with its
/// path, for messages.
fn planned_file(
    req: &ApplyRequest,
    sha256: Option<&str>,
) -> Result<(String, LocalDeb), Diagnostic> {
    let path = req
        .config
        .attr("source_file")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(unknown_at_apply)?;
    let deb = read_deb(Path::new(&path)).map_err(|why| {
        Diagnostic::error(format!("Cannot use {path:?}"), format!("{why}."))
            .at(AttributePath::attr("source_file"))
    })?;
    if let Some(s) = sha256
        && !s.eq_ignore_ascii_case(&deb.sha256)
    {
        return Err(Diagnostic::error(
            format!("{path:?} changed after the plan"),
            format!(
                "The plan was made for sha256 {s}; the file now has {}. Plan again.",
                deb.sha256
            ),
        ));
    }
    Ok((path, deb))
}

/// Makes `key` (the file `sha256`) a package of `to` and no longer of `from`: adds the
/// configured file to `to` unless `to` holds it already (a repository renamed in this
/// apply holds its packages), then removes it from `from` if `from` still exists and holds
/// it.
async fn move_package(
    srv: &super::provider_block::AptServer,
    req: &ApplyRequest,
    (from, to): (&str, &str),
    key: &str,
    sha256: &str,
) -> Result<(), Diagnostic> {
    let c = &srv.client;
    let held = c
        .packages(PackageSource::Repo(to))
        .await
        .map_err(|e| apt_error(&e, &format!("list repository {to:?}")))?
        .iter()
        .any(|p| p.key == key);
    if !held {
        let (path, deb) = planned_file(req, Some(sha256))?;
        c.add_package(to, &deb.file_name, deb.content, &deb.sha256)
            .await
            .map_err(|e| apt_error(&e, &format!("add {path:?} to repository {to:?}")))?;
    }
    match c.remove_packages(from, &[key.to_owned()]).await {
        Ok(()) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(apt_error(
            &e,
            &format!("remove {key:?} from repository {from:?} (it is in {to:?} now)"),
        )),
    }
}

const COMPUTED: [&str; 5] = ["key", "name", "version", "architecture", "id"];

#[async_trait]
impl Resource for AptPackage {
    fn type_name(&self) -> &'static str {
        "rack_apt_package"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            Block::new(
                "One Debian binary package (.deb) from the machine running Terraform, uploaded \
                 into a repository. The file is read, checked and hashed at plan time: a file \
                 that is not a .deb, or whose sha256 is not `sha256`, fails the plan. A file \
                 with other content (another sha256 than the state's) replaces the package; a \
                 new path to the same content changes nothing. `source_file` is write-only: \
                 state keeps the sha256, which aptly reports too, so an imported package plans \
                 empty when the file is the one aptly holds. aptly keeps the file's name in its \
                 pool, where two different files of one package may not share a name: use \
                 Debian's `<name>_<version>_<arch>.deb`.",
            )
            .attributes([
                server_attribute(),
                Attribute::string("repository")
                    .required()
                    .description(
                        "The repository (`rack_apt_repository.NAME.name`). Renaming the \
                         repository keeps the package in it; naming another repository moves \
                         the package there (added there, then removed from the old one), in \
                         place.",
                    )
                    .validator(name_validator()),
                Attribute::string("source_file")
                    .required()
                    .write_only()
                    .description(
                        "Path of the .deb on the machine running Terraform. Write-only (never \
                         in state; Terraform 1.11 or later): the file is identified by its \
                         sha256.",
                    ),
                Attribute::string("sha256")
                    .optional()
                    .computed()
                    .description(
                        "The file's sha256, lowercase hex. When set, the file must have it; \
                         otherwise it is computed from the file at plan time.",
                    ),
                Attribute::string("key")
                    .computed()
                    .description("aptly's package key, e.g. `Pamd64 hello 1.0 5f01e7ae5d5b0746`, for `rack_apt_snapshot.package_keys`."),
                Attribute::string("name")
                    .computed()
                    .description("The package's name (its control file's `Package`)."),
                Attribute::string("version")
                    .computed()
                    .description("The package's version."),
                Attribute::string("architecture")
                    .computed()
                    .description("The package's architecture."),
                Attribute::string("id").computed().description(
                    "`<repository>/<key>`, the import ID (`<server>/<repository>/<key>` for \
                     another server than the default).",
                ),
            ]),
        )
    }

    fn identity_schema(&self) -> Option<IdentitySchema> {
        Some(IdentitySchema {
            version: 0,
            attributes: vec![
                IdentityAttribute::optional_string(
                    "server",
                    "aptly server name; the default server when omitted.",
                ),
                IdentityAttribute::required_string("repository", "The repository."),
                IdentityAttribute::required_string("key", "aptly's package key."),
            ],
        })
    }

    async fn modify_plan(&self, ctx: &Context, req: PlanRequest<'_>, plan: &mut PlannedChange) {
        if plan.planned.is_null() {
            return;
        }
        plan_server(ctx, &mut plan.planned);
        let wanted = req.config.attr("sha256").and_then(Value::as_str);
        let file_sha = match req.config.attr("source_file") {
            Some(Value::String(path)) => match read_deb(Path::new(path)) {
                Ok(deb) => Some(deb.sha256),
                Err(why) => {
                    plan.diags.push(
                        Diagnostic::error(
                            format!("Cannot use {path:?}"),
                            format!("{why}. Give the path of a Debian binary package (.deb)."),
                        )
                        .at(AttributePath::attr("source_file")),
                    );
                    return;
                }
            },
            _ => None,
        };
        if let (Some(w), Some(f)) = (wanted, &file_sha)
            && !w.eq_ignore_ascii_case(f)
        {
            plan.diags.push(
                Diagnostic::error(
                    "The file's sha256 does not match",
                    format!("`sha256` is {w} but the file's sha256 is {f}."),
                )
                .at(AttributePath::attr("sha256")),
            );
            return;
        }
        let sha = file_sha.or_else(|| wanted.map(str::to_ascii_lowercase));
        match &sha {
            Some(s) => obj_set(&mut plan.planned, "sha256", Value::from(s.as_str())),
            // A path known only at apply: its content is unknown until then.
            None => obj_set(&mut plan.planned, "sha256", Value::Unknown),
        }
        if req.prior.is_null() {
            return;
        }
        let prior_sha = req.prior.attr("sha256").and_then(Value::as_str);
        let same = matches!((&sha, prior_sha), (Some(a), Some(b)) if a.eq_ignore_ascii_case(b));
        if !same {
            plan.requires_replace.push(AttributePath::attr("sha256"));
            return;
        }
        // The same file has the same key in any repository: a package whose repository
        // was renamed, or which moves to another one, is updated in place.
        for a in COMPUTED {
            if let Some(v) = req.prior.attr(a) {
                obj_set(&mut plan.planned, a, v.clone());
            }
        }
        if req.prior.attr("repository") != plan.planned.attr("repository") {
            let id = match (
                plan.planned.attr("repository").and_then(Value::as_str),
                req.prior.attr("key").and_then(Value::as_str),
            ) {
                (Some(repo), Some(key)) => Value::from(format!("{repo}/{key}")),
                _ => Value::Unknown,
            };
            obj_set(&mut plan.planned, "id", id);
        }
    }

    async fn create(&self, ctx: &Context, req: ApplyRequest) -> StateResult {
        let created = async {
            let planned: PackageModel = typed::from_value(&req.planned)?;
            let srv = server_of(ctx, &planned.server)?;
            let repo = known(&planned.repository)?;
            let (path, deb) = planned_file(&req, planned.sha256.value().map(String::as_str))?;
            let p = srv
                .client
                .add_package(&repo, &deb.file_name, deb.content, &deb.sha256)
                .await
                .map_err(|e| apt_error(&e, &format!("add {path:?} to repository {repo:?}")))?;
            written(package_state(&srv.name, &repo, &p))
        };
        StateResult::or_failed(created.await, Value::Null)
    }

    async fn read(&self, ctx: &Context, req: ReadRequest) -> StateResult {
        let state = req.state;
        let read = async {
            let stored: PackageModel = typed::from_value(&state)?;
            let srv = server_of(ctx, &stored.server)?;
            let repo = known(&stored.repository)?;
            let key = known(&stored.key)?;
            srv.client.read_ahead();
            let listing = match srv.client.packages(PackageSource::Repo(&repo)).await {
                Ok(l) => l,
                Err(e) if e.is_not_found() => return Ok(StateResult::default()),
                Err(e) => return Err(apt_error(&e, &format!("list repository {repo:?}")).into()),
            };
            match listing.iter().find(|p| p.key == key) {
                Some(p) => written(package_state(&srv.name, &repo, p)),
                None => Ok(StateResult::default()),
            }
        };
        let read = read.await;
        StateResult::or_failed(read, state)
    }

    async fn update(&self, ctx: &Context, req: ApplyRequest) -> StateResult {
        let prior_value = req.prior.clone();
        // The content is the same (another file replaces the package). What can change is
        // the repository: renamed (the package is there already) or another one (the
        // package moves: added there, then removed from the old one).
        let updated = async {
            let planned: PackageModel = typed::from_value(&req.planned)?;
            let prior: PackageModel = typed::from_value(&req.prior)?;
            let srv = server_of(ctx, &planned.server)?;
            let repo = known(&planned.repository)?;
            let old_repo = known(&prior.repository)?;
            if repo != old_repo {
                let (key, sha256) = (known(&planned.key)?, known(&planned.sha256)?);
                move_package(&srv, &req, (&old_repo, &repo), &key, &sha256).await?;
            }
            let p = Package {
                key: known(&planned.key)?,
                name: known(&planned.name)?,
                version: known(&planned.version)?,
                architecture: known(&planned.architecture)?,
                sha256: known(&planned.sha256)?,
                filename: String::new(),
            };
            written(package_state(&srv.name, &repo, &p))
        };
        StateResult::or_failed(updated.await, prior_value)
    }

    async fn delete(&self, ctx: &Context, req: DeleteRequest) -> Diagnostics {
        let removed = async {
            let prior: PackageModel = typed::from_value(&req.prior)?;
            let srv = server_of(ctx, &prior.server)?;
            let repo = known(&prior.repository)?;
            let key = known(&prior.key)?;
            match srv
                .client
                .remove_packages(&repo, std::slice::from_ref(&key))
                .await
            {
                Ok(()) => Ok(()),
                Err(e) if e.is_not_found() => Ok(()),
                Err(e) => {
                    Err(apt_error(&e, &format!("remove {key:?} from repository {repo:?}")).into())
                }
            }
        };
        deleted(removed.await)
    }

    async fn import(&self, ctx: &Context, req: ImportRequest) -> StateResult {
        let imported = async {
            let usage = "Use `<repository>/<key>`, e.g. `main/Pamd64 hello 1.0 5f01e7ae5d5b0746`, \
                         or `<server>/<repository>/<key>` for another server than the default.";
            let (srv, parts) = import_target(ctx, &req, 2, &["repository", "key"], usage).await?;
            let (repo, key) = (&parts[0], &parts[1]);
            let listing = srv
                .client
                .packages(PackageSource::Repo(repo))
                .await
                .map_err(|e| apt_error(&e, &format!("list repository {repo:?}")))?;
            let p = listing.iter().find(|p| &p.key == key).ok_or_else(|| {
                Diagnostic::error(
                    format!("No package {key:?} in repository {repo:?}"),
                    "List the repository's keys with the rack_apt_packages data source.",
                )
            })?;
            written(package_state(&srv.name, repo, p))
        };
        StateResult::or_failed(imported.await, Value::Null)
    }
}
