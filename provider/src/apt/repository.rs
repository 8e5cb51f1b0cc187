//! `rack_apt_repository`: an aptly local repository, renamed in place.

use async_trait::async_trait;
use rack_core::apt::{Repo, name_problem};
use serde::{Deserialize, Serialize};

use super::shared::{
    apt_error, deleted, import_target, known, named_identity, plan_server, server_attribute,
    server_of, written,
};
use crate::framework::attrs::obj_set;
use crate::framework::plan::PlannedChange;
use crate::framework::schema::{Attribute, Block, IdentitySchema, Schema};
use crate::framework::typed::{self, Planned};
use crate::framework::validate::{Check, check};
use crate::framework::{
    ApplyRequest, Context, DeleteRequest, Diagnostic, Diagnostics, ImportRequest, PlanRequest,
    ReadRequest, Resource, StateResult,
};
use crate::protocol::value::Value;

/// The resource.
#[derive(Debug, Clone, Copy, Default)]
pub struct AptRepository;

/// The repository's attributes.
#[derive(Debug, Deserialize, Serialize)]
pub(crate) struct RepoModel {
    server: Planned<Option<String>>,
    name: Planned<Option<String>>,
    comment: Planned<Option<String>>,
    default_distribution: Planned<Option<String>>,
    default_component: Planned<Option<String>>,
    id: Planned<Option<String>>,
}

impl RepoModel {
    fn repo(&self) -> Result<Repo, Diagnostic> {
        Ok(Repo {
            name: known(&self.name)?,
            comment: self.comment.value().cloned().unwrap_or_default(),
            default_distribution: self
                .default_distribution
                .value()
                .cloned()
                .unwrap_or_default(),
            default_component: self.default_component.value().cloned().unwrap_or_default(),
        })
    }

    fn of(server: &str, r: &Repo) -> Self {
        Self {
            server: Some(server.to_owned()).into(),
            name: Some(r.name.clone()).into(),
            comment: Some(r.comment.clone()).into(),
            default_distribution: Some(r.default_distribution.clone()).into(),
            default_component: Some(r.default_component.clone()).into(),
            id: Some(r.name.clone()).into(),
        }
    }
}

/// The state and identity of repository `r`.
pub(crate) fn repo_state(server: &str, r: &Repo) -> Result<(Value, Value), Diagnostic> {
    let state = typed::to_value(
        &RepoModel::of(server, r),
        &AptRepository.schema().value_type(),
    )?;
    let identity = Value::object([
        ("server", Value::from(server)),
        ("name", Value::from(r.name.as_str())),
    ]);
    Ok((state, identity))
}

/// A validator of repository, snapshot and distribution names.
pub(crate) fn name_validator() -> Check<impl Fn(&Value) -> Result<(), String> + Send + Sync> {
    check("No whitespace and no `/`.", "Invalid name", |v| {
        match v.as_str().map(|s| (s, name_problem(s))) {
            Some((s, Some(why))) => Err(format!("{s:?}: {why}.")),
            _ => Ok(()),
        }
    })
}

#[async_trait]
impl Resource for AptRepository {
    fn type_name(&self) -> &'static str {
        "rack_apt_repository"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            Block::new(
                "An aptly local repository: the packages uploaded into it \
                 (`rack_apt_package`) are what its snapshots (`rack_apt_snapshot`) take. A new \
                 `name` renames it in place.",
            )
            .attributes([
                server_attribute(),
                Attribute::string("name")
                    .required()
                    .description("The repository's name.")
                    .validator(name_validator()),
                Attribute::string("comment")
                    .optional()
                    .computed()
                    .default(Value::from(""))
                    .description("Free text."),
                Attribute::string("default_distribution")
                    .optional()
                    .computed()
                    .default(Value::from(""))
                    .description("The distribution a publication of the repository uses by default."),
                Attribute::string("default_component")
                    .optional()
                    .computed()
                    .default(Value::from(""))
                    .description("The component a publication of the repository uses by default."),
                Attribute::string("id")
                    .computed()
                    .description("The repository's name, the import ID (`<server>/<name>` for another server than the default)."),
            ]),
        )
    }

    fn identity_schema(&self) -> Option<IdentitySchema> {
        Some(named_identity("name", "The repository's name."))
    }

    async fn modify_plan(&self, ctx: &Context, req: PlanRequest<'_>, plan: &mut PlannedChange) {
        if plan.planned.is_null() {
            return;
        }
        plan_server(ctx, &mut plan.planned);
        if let Some(n) = req.config.attr("name").and_then(Value::as_str) {
            obj_set(&mut plan.planned, "id", Value::from(n));
        }
    }

    async fn create(&self, ctx: &Context, req: ApplyRequest) -> StateResult {
        let created = async {
            let planned: RepoModel = typed::from_value(&req.planned)?;
            let srv = server_of(ctx, &planned.server)?;
            let repo = planned.repo()?;
            let made = srv
                .client
                .create_repo(&repo)
                .await
                .map_err(|e| apt_error(&e, &format!("create repository {:?}", repo.name)))?;
            written(repo_state(&srv.name, &made))
        };
        StateResult::or_failed(created.await, Value::Null)
    }

    async fn read(&self, ctx: &Context, req: ReadRequest) -> StateResult {
        let state = req.state;
        let read = async {
            let stored: RepoModel = typed::from_value(&state)?;
            let srv = server_of(ctx, &stored.server)?;
            let name = known(&stored.name)?;
            // Terraform refreshes the packages of a repository right after it: their one
            // listing starts now (it is read whether or not packages of it are managed).
            srv.client.read_ahead();
            srv.client.read_repo_packages_ahead(&name);
            match srv
                .client
                .repo(&name)
                .await
                .map_err(|e| apt_error(&e, "list repositories"))?
            {
                Some(r) => written(repo_state(&srv.name, &r)),
                None => Ok(StateResult::default()),
            }
        };
        let read = read.await;
        StateResult::or_failed(read, state)
    }

    async fn update(&self, ctx: &Context, req: ApplyRequest) -> StateResult {
        let prior_value = req.prior.clone();
        let updated = async {
            let planned: RepoModel = typed::from_value(&req.planned)?;
            let prior: RepoModel = typed::from_value(&req.prior)?;
            let srv = server_of(ctx, &planned.server)?;
            let old = known(&prior.name)?;
            let repo = planned.repo()?;
            let done = srv
                .client
                .update_repo(&old, &repo)
                .await
                .map_err(|e| apt_error(&e, &format!("update repository {old:?}")))?;
            written(repo_state(&srv.name, &done))
        };
        StateResult::or_failed(updated.await, prior_value)
    }

    async fn delete(&self, ctx: &Context, req: DeleteRequest) -> Diagnostics {
        let removed = async {
            let prior: RepoModel = typed::from_value(&req.prior)?;
            let srv = server_of(ctx, &prior.server)?;
            let name = known(&prior.name)?;
            srv.client
                .delete_repo(&name)
                .await
                .map_err(|e| apt_error(&e, &format!("drop repository {name:?}")))?;
            Ok(())
        };
        deleted(removed.await)
    }

    async fn import(&self, ctx: &Context, req: ImportRequest) -> StateResult {
        let imported = async {
            let usage = "Use the repository's name, or `<server>/<name>` for another server than \
                         the default.";
            let (srv, parts) = import_target(ctx, &req, 1, &["name"], usage).await?;
            let name = parts.concat();
            let repo = srv
                .client
                .repo(&name)
                .await
                .map_err(|e| apt_error(&e, "list repositories"))?
                .ok_or_else(|| {
                    Diagnostic::error(
                        format!("No repository {name:?}"),
                        format!(
                            "aptly server {:?} has no local repository of that name.",
                            srv.name
                        ),
                    )
                })?;
            written(repo_state(&srv.name, &repo))
        };
        StateResult::or_failed(imported.await, Value::Null)
    }
}
