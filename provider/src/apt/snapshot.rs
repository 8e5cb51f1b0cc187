//! `rack_apt_snapshot`: an immutable aptly snapshot, of a repository as it is at
//! creation, of an explicit set of package keys, or of other snapshots filtered by an
//! aptly package query. Any change of content replaces it; its aptly name is its `name`
//! with a random suffix, so that with `create_before_destroy` the new snapshot exists
//! beside the old one while a publication switches from one to the other.
//!
//! aptly keeps no record of what a snapshot was made from, so rack writes it into the
//! snapshot's aptly description: the configured `description`, then a last line
//! `rack-content: <JSON>` (see [`Content`]). A read or import parses it back, so an
//! imported snapshot has the content attributes it was created with; a snapshot made
//! elsewhere (no such line) imports as its explicit package keys.

use std::collections::BTreeSet;

use async_trait::async_trait;
use rack_core::apt::{PackageSource, Snapshot, token};
use serde::{Deserialize, Serialize};

use super::repository::name_validator;
use super::shared::{
    apt_error, deleted, import_target, known, named_identity, plan_server, server_attribute,
    server_of, unknown_at_apply, written,
};
use crate::framework::attrs::obj_set;
use crate::framework::plan::PlannedChange;
use crate::framework::schema::{Attribute, Block, IdentitySchema, Schema};
use crate::framework::typed::{self, Planned};
use crate::framework::{
    ApplyRequest, AttributePath, Context, DeleteRequest, Diagnostic, Diagnostics, ImportRequest,
    PlanRequest, ReadRequest, Resource, StateResult,
};
use crate::protocol::value::{Type, Value};

/// The resource.
#[derive(Debug, Clone, Copy, Default)]
pub struct AptSnapshot;

/// The attributes that say what the snapshot holds.
const CONTENT: [&str; 5] = [
    "name",
    "repository",
    "package_keys",
    "source_snapshots",
    "query",
];
/// The attributes aptly gives the snapshot at creation.
const MADE: [&str; 3] = ["aptly_name", "packages", "id"];
/// Length of the random suffix of the aptly name.
const SUFFIX_LEN: usize = 8;
/// The start of the last line of a snapshot's aptly description that says what rack made
/// it from.
const CONTENT_MARK: &str = "rack-content: ";

/// What a snapshot was made from, as rack records it in aptly's description, e.g.
/// `{"from":"repository","repository":"ops"}`. The keys of a `package_keys` snapshot are
/// not repeated there: they are its packages.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(tag = "from", rename_all = "snake_case")]
enum Content {
    /// A repository as it was at creation.
    Repository { repository: String },
    /// Exactly the packages it holds.
    PackageKeys,
    /// The packages of other snapshots that match a query.
    SourceSnapshots {
        source_snapshots: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        query: Option<String>,
    },
}

/// The aptly description of a snapshot: the configured `description`, then the line that
/// records `content`.
fn aptly_description(description: &str, content: &Content) -> String {
    let json = serde_json::to_string(content).unwrap_or_default();
    if description.is_empty() {
        format!("{CONTENT_MARK}{json}")
    } else {
        format!("{description}\n{CONTENT_MARK}{json}")
    }
}

/// Splits an aptly description into the configured `description` and the content rack
/// recorded; a description without rack's line is all `description`.
fn split_description(aptly: &str) -> (String, Option<Content>) {
    let (head, last) = match aptly.rsplit_once('\n') {
        Some((head, last)) => (head, last),
        None => ("", aptly),
    };
    match last
        .strip_prefix(CONTENT_MARK)
        .and_then(|json| serde_json::from_str::<Content>(json).ok())
    {
        Some(content) => (head.to_owned(), Some(content)),
        None => (aptly.to_owned(), None),
    }
}

/// The snapshot's attributes.
#[derive(Debug, Deserialize, Serialize)]
pub(crate) struct SnapshotModel {
    server: Planned<Option<String>>,
    name: Planned<Option<String>>,
    description: Planned<Option<String>>,
    repository: Planned<Option<String>>,
    package_keys: Planned<Option<Vec<String>>>,
    source_snapshots: Planned<Option<Vec<String>>>,
    query: Planned<Option<String>>,
    aptly_name: Planned<Option<String>>,
    packages: Planned<Option<Vec<String>>>,
    id: Planned<Option<String>>,
}

/// The name a snapshot was given before its random suffix.
fn base_name(aptly_name: &str) -> &str {
    match aptly_name.rsplit_once('-') {
        Some((base, suffix))
            if !base.is_empty()
                && suffix.len() == SUFFIX_LEN
                && suffix.chars().all(|c| c.is_ascii_hexdigit()) =>
        {
            base
        }
        _ => aptly_name,
    }
}

impl SnapshotModel {
    /// The content the model's attributes say, when they say one.
    fn content(&self) -> Option<Content> {
        if let Some(repository) = self.repository.value() {
            Some(Content::Repository {
                repository: repository.clone(),
            })
        } else if self.package_keys.value().is_some() {
            Some(Content::PackageKeys)
        } else {
            self.source_snapshots
                .value()
                .map(|sources| Content::SourceSnapshots {
                    source_snapshots: sources.clone(),
                    query: self.query.value().cloned(),
                })
        }
    }

    /// A model of snapshot `name` holding `packages` (`None`: not read) whose content is
    /// `content`, or its packages' keys when rack did not record it.
    fn of(name: &str, content: Option<Content>, packages: Option<&[String]>) -> Self {
        let mut m = SnapshotModel {
            server: Planned::Known(None),
            name: Some(base_name(name).to_owned()).into(),
            description: Planned::Known(None),
            repository: Planned::Known(None),
            package_keys: Planned::Known(None),
            source_snapshots: Planned::Known(None),
            query: Planned::Known(None),
            aptly_name: Planned::Known(None),
            packages: Planned::Known(None),
            id: Planned::Known(None),
        };
        match content.unwrap_or(Content::PackageKeys) {
            Content::Repository { repository } => m.repository = Some(repository).into(),
            Content::PackageKeys => m.package_keys = packages.map(<[String]>::to_vec).into(),
            Content::SourceSnapshots {
                source_snapshots,
                query,
            } => {
                m.source_snapshots = Some(source_snapshots).into();
                m.query = query.into();
            }
        }
        m
    }
}

/// The state and identity of snapshot `s` (as aptly lists it) holding `packages` (`None`:
/// not read); `model` carries the configuration's content attributes, or `None` to take
/// them from what rack recorded in aptly's description (after an import).
fn snapshot_state(
    server: &str,
    s: &Snapshot,
    packages: Option<Vec<String>>,
    model: Option<SnapshotModel>,
) -> Result<(Value, Value), Diagnostic> {
    let (description, content) = split_description(&s.description);
    let mut m = match model {
        // State written before rack recorded the content has none: take it from aptly.
        Some(m) if m.content().is_some() => m,
        _ => SnapshotModel::of(&s.name, content, packages.as_deref()),
    };
    m.server = Some(server.to_owned()).into();
    m.description = Some(description).into();
    m.aptly_name = Some(s.name.clone()).into();
    m.packages = packages.into();
    m.id = Some(s.name.clone()).into();
    let state = typed::to_value(&m, &AptSnapshot.schema().value_type())?;
    Ok((state, snapshot_identity(server, &s.name)))
}

pub(crate) fn snapshot_identity(server: &str, name: &str) -> Value {
    Value::object([("server", Value::from(server)), ("name", Value::from(name))])
}

/// The state of a listed snapshot (for `terraform query`): its packages are not read.
pub(crate) fn listed_state(server: &str, s: &Snapshot) -> Result<(Value, Value), Diagnostic> {
    snapshot_state(server, s, None, None)
}

fn is_set(config: &Value, name: &str) -> bool {
    config.attr(name).is_some_and(|v| !v.is_null())
}

/// The diagnostic for a snapshot that aptly refuses to drop.
async fn still_used(
    srv: &super::provider_block::AptServer,
    name: &str,
    message: &str,
) -> Diagnostic {
    srv.client.invalidate().await;
    let users: Vec<String> = srv
        .client
        .publications()
        .await
        .map(|ps| {
            ps.iter()
                .filter(|p| p.sources.iter().any(|s| s.name == name))
                .map(|p| format!("{}/{}", p.prefix, p.distribution))
                .collect()
        })
        .unwrap_or_default();
    let detail = if users.is_empty() {
        format!("aptly said: {message}.")
    } else {
        format!(
            "aptly said: {message}. Published in {}. Switch those publications to another \
             snapshot first (with `create_before_destroy` on the snapshot, Terraform creates \
             the new one, switches, then drops this one).",
            users.join(", ")
        )
    };
    Diagnostic::error(format!("Snapshot {name:?} is still in use"), detail)
}

#[async_trait]
impl Resource for AptSnapshot {
    fn type_name(&self) -> &'static str {
        "rack_apt_snapshot"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            Block::new(
                "An immutable aptly snapshot. Its content is one of: a repository as it is at \
                 creation (`repository`); an explicit set of package keys (`package_keys`); or \
                 other snapshots filtered by an aptly package query (`source_snapshots` and \
                 `query`, e.g. `Name (nginx), $Version (>= 1.2)`). Any change of content \
                 replaces it. aptly names it `<name>-<8 hex digits>`, new at each creation, so \
                 with `create_before_destroy` the replacement is created while publications \
                 still use the old one, they switch, and the old one is dropped. aptly does \
                 not record what a snapshot was made from, so rack writes it as the last line \
                 of the snapshot's aptly description, after `description`: `rack-content: ` \
                 and a JSON object, `{\"from\":\"repository\",\"repository\":\"ops\"}`, \
                 `{\"from\":\"package_keys\"}` (the keys are its packages) or \
                 `{\"from\":\"source_snapshots\",\"source_snapshots\":[...],\"query\":\"...\"}`. \
                 Import reads it back, so an imported snapshot plans empty against the \
                 configuration it was made with; a snapshot made outside rack imports as \
                 `package_keys`, the keys of the packages it holds.",
            )
            .attributes([
                server_attribute(),
                Attribute::string("name")
                    .required()
                    .description("The snapshot's name, before the suffix aptly's name gets.")
                    .validator(name_validator()),
                Attribute::string("description")
                    .optional()
                    .computed()
                    .default(Value::from(""))
                    .requires_replace()
                    .description("Free text."),
                Attribute::string("repository")
                    .optional()
                    .description("Snapshot this repository as it is at creation."),
                Attribute::set("package_keys", Type::String)
                    .optional()
                    .description("Snapshot exactly these packages (aptly keys, `rack_apt_package.NAME.key`)."),
                Attribute::list("source_snapshots", Type::String)
                    .optional()
                    .description("Snapshot the packages of these snapshots (aptly names) that match `query`."),
                Attribute::string("query")
                    .optional()
                    .description("An aptly package query over `source_snapshots`; every package when omitted."),
                Attribute::string("aptly_name")
                    .computed()
                    .description("The snapshot's name in aptly: what publications' `components` name."),
                Attribute::set("packages", Type::String)
                    .computed()
                    .description("The keys of the packages it holds."),
                Attribute::string("id").computed().description(
                    "The aptly name, the import ID (`<server>/<aptly name>` for another server \
                     than the default), e.g. `main-0a1b2c3d`.",
                ),
            ]),
        )
    }

    fn identity_schema(&self) -> Option<IdentitySchema> {
        Some(named_identity("name", "The snapshot's aptly name."))
    }

    async fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        let sources = ["repository", "package_keys", "source_snapshots"];
        let set: Vec<&str> = sources.into_iter().filter(|a| is_set(config, a)).collect();
        if set.len() != 1 {
            diags.push(Diagnostic::error(
                "A snapshot needs exactly one source",
                format!(
                    "Set one of `repository`, `package_keys` or `source_snapshots`{}.",
                    if set.is_empty() {
                        String::new()
                    } else {
                        format!(" (this one sets {})", set.join(", "))
                    }
                ),
            ));
        }
        if is_set(config, "query") && !is_set(config, "source_snapshots") {
            diags.push(
                Diagnostic::error(
                    "`query` filters `source_snapshots`",
                    "Set `source_snapshots` too, or drop `query`.",
                )
                .at(AttributePath::attr("query")),
            );
        }
    }

    async fn modify_plan(&self, ctx: &Context, req: PlanRequest<'_>, plan: &mut PlannedChange) {
        if plan.planned.is_null() {
            return;
        }
        plan_server(ctx, &mut plan.planned);
        // Sources named literally must exist.
        if let Some(Value::List(names)) = req.config.attr("source_snapshots")
            && let Ok(srv) = server_of(
                ctx,
                &typed::from_value(plan.planned.attr("server").unwrap_or(&Value::Null))
                    .unwrap_or(Planned::Unknown),
            )
        {
            match srv.client.snapshots().await {
                Ok(known_snapshots) => {
                    for (i, n) in names.iter().enumerate() {
                        if let Some(n) = n.as_str()
                            && !known_snapshots.iter().any(|s| s.name == n)
                        {
                            plan.diags.push(
                                Diagnostic::error(
                                    format!("Unknown snapshot {n:?}"),
                                    format!(
                                        "aptly server {:?} has no snapshot of that name. Name a \
                                         snapshot's aptly name (`rack_apt_snapshot.NAME.aptly_name`).",
                                        srv.name
                                    ),
                                )
                                .at(AttributePath::attr("source_snapshots").join_index(i)),
                            );
                        }
                    }
                }
                Err(e) => plan.diags.push(apt_error(&e, "list snapshots")),
            }
        }
        if req.prior.is_null() {
            return;
        }
        // An imported snapshot has no content attributes: it adopts the configuration's.
        let imported = CONTENT[1..].iter().all(|a| !is_set(req.prior, a));
        let changed: Vec<&str> = CONTENT
            .iter()
            .copied()
            .filter(|a| {
                let (before, after) = (req.prior.attr(a), plan.planned.attr(a));
                before != after && !(imported && *a != "name")
            })
            .collect();
        if changed.is_empty() {
            for a in MADE {
                if let Some(v) = req.prior.attr(a) {
                    obj_set(&mut plan.planned, a, v.clone());
                }
            }
        } else {
            plan.requires_replace
                .extend(changed.into_iter().map(AttributePath::attr));
        }
    }

    async fn create(&self, ctx: &Context, req: ApplyRequest) -> StateResult {
        let created = async {
            let planned: SnapshotModel = typed::from_value(&req.planned)?;
            let srv = server_of(ctx, &planned.server)?;
            let base = known(&planned.name)?;
            let content = planned.content().ok_or_else(unknown_at_apply)?;
            let description = aptly_description(
                planned.description.value().map_or("", String::as_str),
                &content,
            );
            let name = format!("{base}-{}", &token()[..SUFFIX_LEN]);
            let c = &srv.client;
            let doing = format!("create snapshot {name:?}");
            if let Some(repo) = planned.repository.value() {
                c.snapshot_repo(repo, &name, &description)
                    .await
                    .map_err(|e| apt_error(&e, &doing))?;
            } else if let Some(keys) = planned.package_keys.value() {
                c.snapshot_packages(&name, &description, &[], keys)
                    .await
                    .map_err(|e| apt_error(&e, &doing))?;
            } else {
                let sources = known(&planned.source_snapshots)?;
                let mut keys = BTreeSet::new();
                for s in &sources {
                    let from = PackageSource::Snapshot(s);
                    let found = match planned.query.value() {
                        Some(q) => c.query(from, q).await,
                        None => c.packages(from).await.map(|l| l.as_ref().clone()),
                    }
                    .map_err(|e| apt_error(&e, &format!("list snapshot {s:?}")))?;
                    keys.extend(found.into_iter().map(|p| p.key));
                }
                let keys: Vec<String> = keys.into_iter().collect();
                c.snapshot_packages(&name, &description, &sources, &keys)
                    .await
                    .map_err(|e| apt_error(&e, &doing))?;
            }
            let packages = c
                .packages(PackageSource::Snapshot(&name))
                .await
                .map_err(|e| apt_error(&e, &format!("list snapshot {name:?}")))?
                .iter()
                .map(|p| p.key.clone())
                .collect();
            let made = Snapshot {
                name,
                description,
                source_kind: String::new(),
            };
            written(snapshot_state(
                &srv.name,
                &made,
                Some(packages),
                Some(planned),
            ))
        };
        StateResult::or_failed(created.await, Value::Null)
    }

    async fn read(&self, ctx: &Context, req: ReadRequest) -> StateResult {
        let state = req.state;
        let read = async {
            let stored: SnapshotModel = typed::from_value(&state)?;
            let srv = server_of(ctx, &stored.server)?;
            let name = known(&stored.aptly_name)?;
            srv.client.read_ahead();
            let packages = stored.packages.value().cloned();
            match srv
                .client
                .snapshot(&name)
                .await
                .map_err(|e| apt_error(&e, "list snapshots"))?
            {
                Some(s) => written(snapshot_state(&srv.name, &s, packages, Some(stored))),
                None => Ok(StateResult::default()),
            }
        };
        let read = read.await;
        StateResult::or_failed(read, state)
    }

    async fn update(&self, ctx: &Context, req: ApplyRequest) -> StateResult {
        let prior_value = req.prior.clone();
        // Only an imported snapshot adopting its configuration's content attributes comes
        // here: nothing changes in aptly.
        let updated = async {
            let planned: SnapshotModel = typed::from_value(&req.planned)?;
            let srv = server_of(ctx, &planned.server)?;
            let content = planned.content().ok_or_else(unknown_at_apply)?;
            let made = Snapshot {
                name: known(&planned.aptly_name)?,
                description: aptly_description(
                    planned.description.value().map_or("", String::as_str),
                    &content,
                ),
                source_kind: String::new(),
            };
            let packages = planned.packages.value().cloned();
            written(snapshot_state(&srv.name, &made, packages, Some(planned)))
        };
        StateResult::or_failed(updated.await, prior_value)
    }

    async fn delete(&self, ctx: &Context, req: DeleteRequest) -> Diagnostics {
        let removed = async {
            let prior: SnapshotModel = typed::from_value(&req.prior)?;
            let srv = server_of(ctx, &prior.server)?;
            let name = known(&prior.aptly_name)?;
            match srv.client.delete_snapshot(&name).await {
                Ok(_) => Ok(()),
                Err(e) if e.is_conflict() => {
                    Err(still_used(&srv, &name, e.message().unwrap_or_default())
                        .await
                        .into())
                }
                Err(e) => Err(apt_error(&e, &format!("drop snapshot {name:?}")).into()),
            }
        };
        deleted(removed.await)
    }

    async fn import(&self, ctx: &Context, req: ImportRequest) -> StateResult {
        let imported = async {
            let usage = "Use the snapshot's aptly name, or `<server>/<aptly name>` for another \
                         server than the default.";
            let (srv, parts) = import_target(ctx, &req, 1, &["name"], usage).await?;
            let name = parts.concat();
            let s = srv
                .client
                .snapshot(&name)
                .await
                .map_err(|e| apt_error(&e, "list snapshots"))?
                .ok_or_else(|| {
                    Diagnostic::error(
                        format!("No snapshot {name:?}"),
                        format!("aptly server {:?} has no snapshot of that name.", srv.name),
                    )
                })?;
            let packages = srv
                .client
                .packages(PackageSource::Snapshot(&name))
                .await
                .map_err(|e| apt_error(&e, &format!("list snapshot {name:?}")))?
                .iter()
                .map(|p| p.key.clone())
                .collect();
            written(snapshot_state(&srv.name, &s, Some(packages), None))
        };
        StateResult::or_failed(imported.await, Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_names_drop_the_random_suffix_only() {
        assert_eq!(base_name("main-0a1b2c3d"), "main");
        assert_eq!(base_name("main-stable-0a1b2c3d"), "main-stable");
        assert_eq!(base_name("main-2024"), "main-2024");
        assert_eq!(base_name("-0a1b2c3d"), "-0a1b2c3d");
        assert_eq!(base_name("plain"), "plain");
    }

    #[test]
    fn the_content_is_recorded_in_the_description_and_read_back() {
        let contents = [
            Content::Repository {
                repository: "ops".into(),
            },
            Content::PackageKeys,
            Content::SourceSnapshots {
                source_snapshots: vec!["main-0a1b2c3d".into()],
                query: Some("Name (hello), $Version (>= 1.1)".into()),
            },
            Content::SourceSnapshots {
                source_snapshots: vec!["a".into(), "b".into()],
                query: None,
            },
        ];
        for content in contents {
            for description in ["", "nightly build", "two\nlines"] {
                let aptly = aptly_description(description, &content);
                assert_eq!(
                    split_description(&aptly),
                    (description.to_owned(), Some(content.clone())),
                    "{aptly}"
                );
            }
        }
        assert_eq!(
            aptly_description("", &Content::PackageKeys),
            r#"rack-content: {"from":"package_keys"}"#
        );
        for foreign in [
            "Snapshot from local repo [ops]",
            "",
            "rack-content: not json",
            "rack-content: {\"from\":\"mirror\"}",
        ] {
            assert_eq!(split_description(foreign), (foreign.to_owned(), None));
        }
    }
}
