//! `rack_apt_publication`: a published distribution, signed with a key of aptly's own
//! keyring. Switching a component to another snapshot is an in-place update (aptly's
//! publish switch), never an unpublish and publish.
//!
//! aptly reports nothing about how a publication is signed, so its import ID may say it
//! (see [`parse_import_id`]). Imported without it, `signing` is null (aptly's default
//! key), and a configured `signing` block is an update: the publication is switched, and
//! so signed again, with the configured key.

use std::collections::BTreeMap;

use async_trait::async_trait;
use rack_core::apt::{
    NewPublication, PackageSource, Publication, Signing, Source, component_problem, normal_prefix,
};
use serde::{Deserialize, Serialize};

use super::provider_block::AptServer;
use super::repository::name_validator;
use super::shared::{
    apt_error, deleted, import_target, known, plan_server, server_attribute, server_of, written,
};
use crate::framework::attrs::obj_set;
use crate::framework::plan::PlannedChange;
use crate::framework::schema::{
    Attribute, Block, IdentityAttribute, IdentitySchema, NestedBlock, Nesting, Schema,
};
use crate::framework::typed::{self, Planned};
use crate::framework::validate::{check, one_of};
use crate::framework::{
    ApplyRequest, AttributePath, Context, DeleteRequest, Diagnostic, Diagnostics, ImportRequest,
    PlanRequest, ReadRequest, Resource, StateResult,
};
use crate::protocol::value::{Type, Value};

/// The resource.
#[derive(Debug, Clone, Copy, Default)]
pub struct AptPublication;

/// What the import ID's usage says.
const IMPORT_USAGE: &str = "Use `<prefix>/<distribution>`, e.g. `./stable` or \
                            `ops/debian/stable`, optionally followed by how aptly signs it: \
                            `?key_id=<ID>&passphrase_file=<path>` (either or both), \
                            `?signing=skip` (unsigned) or `?signing=default` (aptly's default \
                            key, no `signing` block).";

/// A publication's import ID: where it is, and its signing when the ID says it (`None`:
/// not said; `Some(None)`: no `signing` block).
#[derive(Debug, PartialEq)]
struct ImportId {
    prefix: String,
    distribution: String,
    signing: Option<Option<SigningModel>>,
}

/// Decodes `%XX` escapes (a path may hold `&` or `=`).
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Reads `<prefix>/<distribution>[?<signing>]`, where `<signing>` is
/// `key_id=<ID>&passphrase_file=<path>` (either or both, values `%`-escaped where they
/// hold `&`, `=` or `%`), `signing=skip` or `signing=default`.
fn parse_import_id(id: &str) -> Option<ImportId> {
    let (place, query) = match id.split_once('?') {
        Some((place, query)) => (place, Some(query)),
        None => (id, None),
    };
    let (prefix, distribution) = place
        .rsplit_once('/')
        .filter(|(p, d)| !p.is_empty() && !d.is_empty())?;
    let signing = match query {
        None => None,
        Some("signing=skip") => Some(Some(SigningModel {
            key_id: Planned::Known(None),
            passphrase_file: Planned::Known(None),
            skip: Some(true).into(),
        })),
        Some("signing=default") => Some(None),
        Some(query) => {
            let (mut key_id, mut passphrase_file) = (None, None);
            for pair in query.split('&') {
                let (k, v) = pair.split_once('=')?;
                let v = percent_decode(v).filter(|v| !v.is_empty())?;
                let slot = match k {
                    "key_id" => &mut key_id,
                    "passphrase_file" => &mut passphrase_file,
                    _ => return None,
                };
                if slot.replace(v).is_some() {
                    return None;
                }
            }
            Some(Some(SigningModel {
                key_id: key_id.into(),
                passphrase_file: passphrase_file.into(),
                skip: Planned::Known(None),
            }))
        }
    };
    Some(ImportId {
        prefix: prefix.to_owned(),
        distribution: distribution.to_owned(),
        signing,
    })
}

/// The `signing` block.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub(crate) struct SigningModel {
    key_id: Planned<Option<String>>,
    passphrase_file: Planned<Option<String>>,
    skip: Planned<Option<bool>>,
}

impl SigningModel {
    fn signing(&self) -> Signing {
        Signing {
            skip: self.skip.value().copied().unwrap_or(false),
            key_id: self.key_id.value().cloned(),
            passphrase_file: self.passphrase_file.value().cloned(),
        }
    }
}

/// The publication's attributes.
#[derive(Debug, Deserialize, Serialize)]
pub(crate) struct PublicationModel {
    server: Planned<Option<String>>,
    prefix: Planned<Option<String>>,
    distribution: Planned<Option<String>>,
    source_kind: Planned<Option<String>>,
    components: Planned<Option<BTreeMap<String, String>>>,
    architectures: Planned<Option<Vec<String>>>,
    origin: Planned<Option<String>>,
    label: Planned<Option<String>>,
    not_automatic: Planned<Option<bool>>,
    but_automatic_upgrades: Planned<Option<bool>>,
    acquire_by_hash: Planned<Option<bool>>,
    signing: Planned<Option<SigningModel>>,
    id: Planned<Option<String>>,
}

impl PublicationModel {
    fn signing(&self) -> Signing {
        self.signing
            .value()
            .map(SigningModel::signing)
            .unwrap_or_default()
    }

    fn sources(&self) -> Result<Vec<Source>, Diagnostic> {
        Ok(known(&self.components)?
            .into_iter()
            .map(|(component, name)| Source { component, name })
            .collect())
    }

    /// This model with what aptly reports of `p` (the signing stays: aptly does not say).
    fn with(mut self, server: &str, p: &Publication) -> Self {
        self.server = Some(server.to_owned()).into();
        self.prefix = Some(p.prefix.clone()).into();
        self.distribution = Some(p.distribution.clone()).into();
        self.source_kind = Some(p.source_kind.clone()).into();
        self.components = Some(p.components()).into();
        let mut archs = p.architectures.clone();
        archs.sort();
        self.architectures = Some(archs).into();
        self.origin = Some(p.origin.clone()).into();
        self.label = Some(p.label.clone()).into();
        self.not_automatic = Some(p.not_automatic == "yes").into();
        self.but_automatic_upgrades = Some(p.but_automatic_upgrades == "yes").into();
        self.acquire_by_hash = Some(p.acquire_by_hash).into();
        self.id = Some(format!("{}/{}", p.prefix, p.distribution)).into();
        if self.signing.is_unknown() {
            self.signing = Planned::Known(None);
        }
        self
    }
}

fn empty_model() -> PublicationModel {
    PublicationModel {
        server: Planned::Known(None),
        prefix: Planned::Known(None),
        distribution: Planned::Known(None),
        source_kind: Planned::Known(None),
        components: Planned::Known(None),
        architectures: Planned::Known(None),
        origin: Planned::Known(None),
        label: Planned::Known(None),
        not_automatic: Planned::Known(None),
        but_automatic_upgrades: Planned::Known(None),
        acquire_by_hash: Planned::Known(None),
        signing: Planned::Known(None),
        id: Planned::Known(None),
    }
}

/// The state and identity of publication `p`, keeping `model`'s signing.
pub(crate) fn publication_state(
    server: &str,
    p: &Publication,
    model: Option<PublicationModel>,
) -> Result<(Value, Value), Diagnostic> {
    let m = model.unwrap_or_else(empty_model).with(server, p);
    let state = typed::to_value(&m, &AptPublication.schema().value_type())?;
    let identity = Value::object([
        ("server", Value::from(server)),
        ("prefix", Value::from(p.prefix.as_str())),
        ("distribution", Value::from(p.distribution.as_str())),
    ]);
    Ok((state, identity))
}

/// Plan-time checks against aptly: the snapshots named exist, and a publication without
/// `architectures` has packages aptly can take them from.
async fn check_sources(
    srv: &AptServer,
    kind: &str,
    components: &BTreeMap<String, Value>,
    architectures_given: bool,
    diags: &mut Diagnostics,
) {
    let c = &srv.client;
    let mut archs_found = false;
    let mut all_known = true;
    for (component, v) in components {
        let Some(name) = v.as_str() else {
            all_known = false;
            continue;
        };
        let path = AttributePath::attr("components").join_key(component);
        let (exists, from) = if kind == "local" {
            (
                c.repo(name).await.map(|r| r.is_some()),
                PackageSource::Repo(name),
            )
        } else {
            (
                c.snapshot(name).await.map(|s| s.is_some()),
                PackageSource::Snapshot(name),
            )
        };
        match exists {
            Ok(true) => {}
            Ok(false) if kind == "local" => {
                // A repository may be created by this same apply.
                all_known = false;
                continue;
            }
            Ok(false) => {
                diags.push(
                    Diagnostic::error(
                        format!("Unknown snapshot {name:?}"),
                        format!(
                            "aptly server {:?} has no snapshot of that name. Name a snapshot's \
                             aptly name (`rack_apt_snapshot.NAME.aptly_name`).",
                            srv.name
                        ),
                    )
                    .at(path),
                );
                all_known = false;
                continue;
            }
            Err(e) => {
                diags.push(apt_error(&e, "list snapshots"));
                return;
            }
        }
        if !architectures_given {
            match c.packages(from).await {
                Ok(list) => {
                    archs_found |= list
                        .iter()
                        .any(|p| p.architecture != "all" && p.architecture != "source");
                }
                Err(e) => {
                    diags.push(apt_error(&e, &format!("list {name:?}")));
                    return;
                }
            }
        }
    }
    if !architectures_given && all_known && !archs_found && kind != "local" {
        diags.push(
            Diagnostic::error(
                "Set `architectures`",
                "The snapshots published hold no package of a particular architecture (they \
                 are empty or hold `all` packages only), so aptly cannot tell which \
                 architectures to publish. List them, e.g. `architectures = [\"amd64\"]`.",
            )
            .at(AttributePath::attr("architectures")),
        );
    }
}

#[async_trait]
impl Resource for AptPublication {
    fn type_name(&self) -> &'static str {
        "rack_apt_publication"
    }

    fn schema(&self) -> Schema {
        let signing = Block::new(
            "How aptly signs the Release files: with `key_id` from aptly's own keyring on the \
             aptly host, its passphrase read by gpg from `passphrase_file` on that host; or \
             `skip = true` for an unsigned publication. rack never holds, sends or stores key \
             material or the passphrase: only the key ID and the file's path are in state. \
             (aptly's `Passphrase` field, which reaches gpg's command line, is never used.) \
             Without this block aptly signs with its default key. aptly does not report \
             how a publication is signed: give it in the import ID (see `id`); otherwise \
             the plan after the import shows this block as an update, whose apply signs \
             the publication again with it.",
        )
        .attributes([
            Attribute::string("key_id")
                .optional()
                .description("The signing key's ID or fingerprint in aptly's keyring."),
            Attribute::string("passphrase_file")
                .optional()
                .description("Path, on the aptly host, of a file holding the key's passphrase."),
            Attribute::bool("skip")
                .optional()
                .description("Publish unsigned."),
        ]);
        Schema::new(
            Block::new(
                "A published distribution: `components` maps each component to a snapshot's \
                 aptly name (or, with `source_kind = \"local\"`, to a local repository). \
                 Switching components to other snapshots is an in-place update (aptly's \
                 publish switch), so clients never see the distribution missing; adding or \
                 removing a component, or changing the Release fields, republishes it.",
            )
            .attributes([
                server_attribute(),
                Attribute::string("prefix")
                    .optional()
                    .computed()
                    .default(Value::from("."))
                    .requires_replace()
                    .description("Where under aptly's public tree: `.` (the root) by default, or e.g. `ops/debian`."),
                Attribute::string("distribution")
                    .required()
                    .requires_replace()
                    .description("The distribution, e.g. `bookworm-ops` or `proposed-updates`.")
                    .validator(name_validator()),
                Attribute::string("source_kind")
                    .optional()
                    .computed()
                    .default(Value::from("snapshot"))
                    .requires_replace()
                    .description("What `components` name: `snapshot` (default) or `local` repositories.")
                    .validator(one_of(["snapshot", "local"])),
                Attribute::map("components", Type::String)
                    .required()
                    .description("Component (e.g. `main`, `profile/appserver`) to snapshot aptly name (`rack_apt_snapshot.NAME.aptly_name`) or local repository.")
                    .validator(check(
                        "Component names without whitespace or empty parts.",
                        "Invalid component name",
                        |v| match v {
                            Value::Map(m) => m
                                .keys()
                                .find_map(|k| component_problem(k).map(|why| format!("{k:?}: {why}.")))
                                .map_or(Ok(()), Err),
                            _ => Ok(()),
                        },
                    )),
                Attribute::set("architectures", Type::String)
                    .optional()
                    .computed()
                    .use_state_for_unknown()
                    .requires_replace()
                    .description("The architectures to publish; aptly takes them from the packages when omitted (required when those are all `all`)."),
                Attribute::string("origin")
                    .optional()
                    .computed()
                    .default(Value::from(""))
                    .requires_replace()
                    .description("Release's `Origin`, what apt pins match with `o=`."),
                Attribute::string("label")
                    .optional()
                    .computed()
                    .default(Value::from(""))
                    .requires_replace()
                    .description("Release's `Label`."),
                Attribute::bool("not_automatic")
                    .optional()
                    .computed()
                    .default(Value::from(false))
                    .requires_replace()
                    .description("Release's `NotAutomatic: yes` (apt's default pin 1)."),
                Attribute::bool("but_automatic_upgrades")
                    .optional()
                    .computed()
                    .default(Value::from(false))
                    .requires_replace()
                    .description("Release's `ButAutomaticUpgrades: yes` (with `not_automatic`: pin 100)."),
                Attribute::bool("acquire_by_hash")
                    .optional()
                    .computed()
                    .default(Value::from(true))
                    .description("Serve indexes by hash too (`Acquire-By-Hash`), so clients never see a half-switched index. Default: true."),
                Attribute::string("id").computed().description(
                    "`<prefix>/<distribution>`, e.g. `./stable` or `ops/debian/stable`. As an \
                     import ID it may be followed by the signing aptly does not report: \
                     `./stable?key_id=<ID>&passphrase_file=<path>` (either or both; `%`-escape \
                     `&`, `=` and `%` in them), `./stable?signing=skip` (unsigned) or \
                     `./stable?signing=default` (aptly's default key, no `signing` block). \
                     Without it, `signing` is imported as absent, and a configured \
                     `signing` block is then an update that signs the publication again.",
                ),
            ])
            .block(NestedBlock {
                name: "signing".into(),
                nesting: Nesting::Single,
                block: signing,
                min_items: 0,
                max_items: 0,
            }),
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
                IdentityAttribute::required_string("prefix", "The prefix, `.` for the root."),
                IdentityAttribute::required_string("distribution", "The distribution."),
            ],
        })
    }

    async fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        if let Some(s) = config.attr("signing").filter(|s| !s.is_null())
            && s.attr("skip").and_then(Value::as_bool) == Some(true)
            && ["key_id", "passphrase_file"]
                .iter()
                .any(|a| s.attr(a).is_some_and(|v| !v.is_null()))
        {
            diags.push(
                Diagnostic::error(
                    "`skip` signs nothing",
                    "With `skip = true`, leave out `key_id` and `passphrase_file`.",
                )
                .at(AttributePath::attr("signing")),
            );
        }
    }

    async fn modify_plan(&self, ctx: &Context, req: PlanRequest<'_>, plan: &mut PlannedChange) {
        if plan.planned.is_null() {
            return;
        }
        plan_server(ctx, &mut plan.planned);
        let prefix = plan
            .planned
            .attr("prefix")
            .and_then(Value::as_str)
            .map(normal_prefix);
        if let Some(p) = &prefix {
            obj_set(&mut plan.planned, "prefix", Value::from(p.as_str()));
            if let Some(d) = plan.planned.attr("distribution").and_then(Value::as_str) {
                let id = format!("{p}/{d}");
                obj_set(&mut plan.planned, "id", Value::from(id));
            }
        }
        let srv_name: Planned<Option<String>> =
            typed::from_value(plan.planned.attr("server").unwrap_or(&Value::Null))
                .unwrap_or(Planned::Unknown);
        // A plan that leaves the publication as aptly has it (just read) publishes what
        // is published already: its sources exist, and its architectures are set.
        let unchanged = !req.prior.is_null() && *req.prior == plan.planned;
        if let (false, Ok(srv), Some(Value::Map(components)), Some(kind)) = (
            unchanged,
            server_of(ctx, &srv_name),
            req.config.attr("components"),
            plan.planned.attr("source_kind").and_then(Value::as_str),
        ) {
            let given = req
                .config
                .attr("architectures")
                .is_some_and(|a| !a.is_null());
            check_sources(&srv, kind, components, given, &mut plan.diags).await;
        }
        if req.prior.is_null() {
            return;
        }
        // A switch changes what components publish, not which components there are.
        let keys = |v: Option<&Value>| match v {
            Some(Value::Map(m)) => Some(m.keys().cloned().collect::<Vec<_>>()),
            _ => None,
        };
        let (before, after) = (
            keys(req.prior.attr("components")),
            keys(plan.planned.attr("components")),
        );
        if before.is_some() && after.is_some() && before != after {
            plan.requires_replace
                .push(AttributePath::attr("components"));
        }
        if plan.planned.attr("source_kind").and_then(Value::as_str) == Some("local")
            && req.prior.attr("components") != plan.planned.attr("components")
        {
            plan.requires_replace
                .push(AttributePath::attr("components"));
        }
    }

    async fn create(&self, ctx: &Context, req: ApplyRequest) -> StateResult {
        let created = async {
            let planned: PublicationModel = typed::from_value(&req.planned)?;
            let srv = server_of(ctx, &planned.server)?;
            let new = NewPublication {
                prefix: known(&planned.prefix)?,
                distribution: known(&planned.distribution)?,
                source_kind: known(&planned.source_kind)?,
                sources: planned.sources()?,
                architectures: planned.architectures.value().cloned().unwrap_or_default(),
                origin: planned.origin.value().cloned().unwrap_or_default(),
                label: planned.label.value().cloned().unwrap_or_default(),
                not_automatic: planned.not_automatic.value().copied().unwrap_or(false),
                but_automatic_upgrades: planned
                    .but_automatic_upgrades
                    .value()
                    .copied()
                    .unwrap_or(false),
                acquire_by_hash: planned.acquire_by_hash.value().copied().unwrap_or(true),
                signing: planned.signing(),
            };
            let p = srv.client.publish(&new).await.map_err(|e| {
                apt_error(&e, &format!("publish {}/{}", new.prefix, new.distribution))
            })?;
            written(publication_state(&srv.name, &p, Some(planned)))
        };
        StateResult::or_failed(created.await, Value::Null)
    }

    async fn read(&self, ctx: &Context, req: ReadRequest) -> StateResult {
        let state = req.state;
        let read = async {
            let stored: PublicationModel = typed::from_value(&state)?;
            let srv = server_of(ctx, &stored.server)?;
            let (prefix, dist) = (known(&stored.prefix)?, known(&stored.distribution)?);
            srv.client.read_ahead();
            match srv
                .client
                .publication(&prefix, &dist)
                .await
                .map_err(|e| apt_error(&e, "list publications"))?
            {
                Some(p) => written(publication_state(&srv.name, &p, Some(stored))),
                None => Ok(StateResult::default()),
            }
        };
        StateResult::or_failed(read.await, state)
    }

    async fn update(&self, ctx: &Context, req: ApplyRequest) -> StateResult {
        let prior_value = req.prior.clone();
        let updated = async {
            let planned: PublicationModel = typed::from_value(&req.planned)?;
            let srv = server_of(ctx, &planned.server)?;
            let (prefix, dist) = (known(&planned.prefix)?, known(&planned.distribution)?);
            let sources = planned.sources()?;
            let snapshots = planned.source_kind.value().map(String::as_str) != Some("local");
            let p = srv
                .client
                .switch(
                    &prefix,
                    &dist,
                    snapshots.then_some(sources.as_slice()),
                    planned.acquire_by_hash.value().copied().unwrap_or(true),
                    &planned.signing(),
                )
                .await
                .map_err(|e| apt_error(&e, &format!("switch {prefix}/{dist}")))?;
            written(publication_state(&srv.name, &p, Some(planned)))
        };
        StateResult::or_failed(updated.await, prior_value)
    }

    async fn delete(&self, ctx: &Context, req: DeleteRequest) -> Diagnostics {
        let removed = async {
            let prior: PublicationModel = typed::from_value(&req.prior)?;
            let srv = server_of(ctx, &prior.server)?;
            let (prefix, dist) = (known(&prior.prefix)?, known(&prior.distribution)?);
            srv.client
                .unpublish(&prefix, &dist)
                .await
                .map_err(|e| apt_error(&e, &format!("unpublish {prefix}/{dist}")))?;
            Ok(())
        };
        deleted(removed.await)
    }

    async fn import(&self, ctx: &Context, req: ImportRequest) -> StateResult {
        let imported = async {
            let (srv, parts, signing) = match &req {
                ImportRequest::Id(id) => {
                    let parsed = parse_import_id(id)
                        .ok_or_else(|| Diagnostic::invalid_import_id(id, IMPORT_USAGE))?;
                    let srv = server_of(ctx, &Planned::Known(None))?;
                    srv.client.invalidate().await;
                    let parts = vec![parsed.prefix, parsed.distribution];
                    (srv, parts, parsed.signing)
                }
                ImportRequest::Identity(_) => {
                    let (srv, parts) =
                        import_target(ctx, &req, 2, &["prefix", "distribution"], IMPORT_USAGE)
                            .await?;
                    (srv, parts, None)
                }
            };
            let (prefix, dist) = (&parts[0], &parts[1]);
            let p = srv
                .client
                .publication(prefix, dist)
                .await
                .map_err(|e| apt_error(&e, "list publications"))?
                .ok_or_else(|| {
                    Diagnostic::error(
                        format!("No publication {prefix}/{dist}"),
                        format!(
                            "aptly server {:?} publishes no distribution {dist:?} under prefix {prefix:?}.",
                            srv.name
                        ),
                    )
                })?;
            let mut model = empty_model();
            if let Some(signing) = signing {
                model.signing = signing.into();
            }
            written(publication_state(&srv.name, &p, Some(model)))
        };
        StateResult::or_failed(imported.await, Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(key_id: Option<&str>, passphrase_file: Option<&str>) -> Option<Option<SigningModel>> {
        Some(Some(SigningModel {
            key_id: key_id.map(str::to_owned).into(),
            passphrase_file: passphrase_file.map(str::to_owned).into(),
            skip: Planned::Known(None),
        }))
    }

    #[test]
    fn import_ids_may_carry_the_signing() {
        let at = |id: &str| parse_import_id(id).map(|p| (p.prefix, p.distribution, p.signing));
        assert_eq!(at("./stable"), Some((".".into(), "stable".into(), None)));
        assert_eq!(
            at("ops/debian/stable?key_id=ABCD&passphrase_file=/etc/aptly/pass%26word"),
            Some((
                "ops/debian".into(),
                "stable".into(),
                signed(Some("ABCD"), Some("/etc/aptly/pass&word"))
            ))
        );
        assert_eq!(
            at("./s?passphrase_file=/p").map(|p| p.2),
            Some(signed(None, Some("/p")))
        );
        let skip = at("./s?signing=skip").and_then(|p| p.2).flatten();
        assert_eq!(skip.map(|s| s.skip), Some(Some(true).into()));
        assert_eq!(at("./s?signing=default").map(|p| p.2), Some(Some(None)));
        for bad in [
            "stable",
            "/stable",
            "./",
            "./s?",
            "./s?key_id=",
            "./s?key_id=a&key_id=b",
            "./s?colour=blue",
            "./s?signing=maybe",
            "./s?key_id=%zz",
        ] {
            assert_eq!(at(bad), None, "{bad}");
        }
    }
}
