//! The tfplugin6 `Provider` gRPC service, implemented on top of the framework traits.
//!
//! Every handler has the same shape: log context -> convert in -> call the provider's code
//! -> check the answer against the client's capabilities -> convert out. A value that cannot
//! be decoded or encoded is reported as a diagnostic, never as a panic.

use std::collections::{BTreeMap, HashMap};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures::Stream;
use tokio::sync::{RwLock, mpsc};
use tonic::{Request, Response, Status, Streaming};

use crate::framework::diag::{AttributePath, Diagnostic, Diagnostics};
use crate::framework::fromproto::{self, ClientCapabilities};
use crate::framework::plan::{self, null_write_only};
use crate::framework::resource::{
    ApplyRequest, Context, DataSource, DeleteRequest, EphemeralResource, Function, ImportRequest,
    ListRequest, ListResource, ListSink, Private, Provider, ProviderData, ReadRequest, Resource,
    StateResult,
};
use crate::framework::schema::{AttributeType, Block, IdentitySchema, Schema};
use crate::framework::timeouts::operation_timeout;
use crate::framework::validate::validate_block;
use crate::framework::{env, toproto};
use crate::protocol::proto::tfplugin6 as pb;
use crate::protocol::proto::tfplugin6::provider_server::Provider as ProviderRpc;
use crate::protocol::value::{Type, Value, ValueError};

/// How many list items may wait to be sent before the list resource is paused; keeps memory
/// flat when Terraform reads slower than a backend answers.
const LIST_BUFFER: usize = 64;

type RpcResult<T> = Result<Response<T>, Status>;
type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

struct ResourceEntry {
    imp: Arc<dyn Resource>,
    schema: Schema,
    ty: Type,
    identity: Option<(IdentitySchema, Type)>,
}

struct TypedEntry<T: ?Sized> {
    imp: Arc<T>,
    schema: Schema,
    ty: Type,
}

struct FunctionEntry {
    imp: Arc<dyn Function>,
    signature: crate::framework::resource::FunctionSignature,
}

/// The protocol-6 server for one provider.
pub struct ProviderService {
    provider: Arc<dyn Provider>,
    provider_schema: Schema,
    provider_type: Type,
    resources: BTreeMap<&'static str, ResourceEntry>,
    data_sources: BTreeMap<&'static str, TypedEntry<dyn DataSource>>,
    ephemeral: BTreeMap<&'static str, TypedEntry<dyn EphemeralResource>>,
    lists: BTreeMap<&'static str, TypedEntry<dyn ListResource>>,
    functions: BTreeMap<&'static str, FunctionEntry>,
    data: RwLock<Option<ProviderData>>,
    stopped: Arc<AtomicBool>,
}

impl std::fmt::Debug for ProviderService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderService")
            .field("resources", &self.resources.keys().collect::<Vec<_>>())
            .field("functions", &self.functions.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

fn typed<T: ?Sized>(imp: Arc<T>, schema: Schema) -> TypedEntry<T> {
    let ty = schema.value_type();
    TypedEntry { imp, schema, ty }
}

impl ProviderService {
    /// Builds the server; every schema is computed once here.
    pub fn new(provider: Arc<dyn Provider>) -> Self {
        let provider_schema = provider.schema();
        let provider_type = provider_schema.value_type();
        let resources = provider
            .resources()
            .into_iter()
            .map(|r| {
                let schema = r.schema();
                let ty = schema.value_type();
                let identity = r.identity_schema().map(|i| {
                    let t = i.value_type();
                    (i, t)
                });
                (
                    r.type_name(),
                    ResourceEntry {
                        imp: r,
                        schema,
                        ty,
                        identity,
                    },
                )
            })
            .collect();
        let data_sources = provider
            .data_sources()
            .into_iter()
            .map(|d| (d.type_name(), typed(d.clone(), d.schema())))
            .collect();
        let ephemeral = provider
            .ephemeral_resources()
            .into_iter()
            .map(|e| (e.type_name(), typed(e.clone(), e.schema())))
            .collect();
        let lists = provider
            .list_resources()
            .into_iter()
            .map(|l| (l.type_name(), typed(l.clone(), l.schema())))
            .collect();
        let functions = provider
            .functions()
            .into_iter()
            .map(|f| {
                let signature = f.signature();
                (f.name(), FunctionEntry { imp: f, signature })
            })
            .collect();
        Self {
            provider,
            provider_schema,
            provider_type,
            resources,
            data_sources,
            ephemeral,
            lists,
            functions,
            data: RwLock::new(None),
            stopped: Arc::new(AtomicBool::new(false)),
        }
    }

    async fn context(&self) -> Context {
        Context::new(self.data.read().await.clone(), self.stopped.clone())
    }

    fn resource(&self, name: &str) -> Result<&ResourceEntry, Diagnostics> {
        self.resources
            .get(name)
            .ok_or_else(|| unknown_type("resource", name))
    }

    fn server_capabilities() -> pb::ServerCapabilities {
        pb::ServerCapabilities {
            plan_destroy: false,
            get_provider_schema_optional: true,
            move_resource_state: false,
            generate_resource_config: false,
        }
    }

    /// The full provider schema, as GetProviderSchema answers it.
    pub fn provider_schema_response(&self) -> pb::get_provider_schema::Response {
        pb::get_provider_schema::Response {
            provider: Some(toproto::schema(&self.provider_schema)),
            resource_schemas: self
                .resources
                .iter()
                .map(|(k, r)| (k.to_string(), toproto::schema(&r.schema)))
                .collect(),
            data_source_schemas: self
                .data_sources
                .iter()
                .map(|(k, d)| (k.to_string(), toproto::schema(&d.schema)))
                .collect(),
            functions: self.function_definitions(),
            ephemeral_resource_schemas: self
                .ephemeral
                .iter()
                .map(|(k, e)| (k.to_string(), toproto::schema(&e.schema)))
                .collect(),
            list_resource_schemas: self
                .lists
                .iter()
                .map(|(k, l)| (k.to_string(), toproto::schema(&l.schema)))
                .collect(),
            server_capabilities: Some(Self::server_capabilities()),
            ..Default::default()
        }
    }

    fn function_definitions(&self) -> HashMap<String, pb::Function> {
        self.functions
            .iter()
            .map(|(k, f)| (k.to_string(), toproto::function(&f.signature)))
            .collect()
    }
}

fn unknown_type(kind: &str, name: &str) -> Diagnostics {
    Diagnostic::error(
        format!("Unknown {kind} type {name:?}"),
        format!(
            "This version of the rack provider has no {kind} type {name:?}. \
             Check the spelling, or upgrade the provider."
        ),
    )
    .into()
}

fn decode_error(what: &str, e: &ValueError) -> Diagnostics {
    Diagnostic::from_error(
        e,
        &format!(
            "Terraform sent a {what} the provider could not decode. This is a bug in the \
             provider or a version mismatch with Terraform; please report it."
        ),
    )
    .into()
}

fn encode_error(what: &str, e: &ValueError) -> Diagnostics {
    Diagnostic::from_error(
        e,
        &format!("The provider produced an invalid {what}. This is a bug in the provider; please report it."),
    )
    .into()
}

fn decode(v: Option<&pb::DynamicValue>, ty: &Type, what: &str) -> Result<Value, Diagnostics> {
    fromproto::dynamic_value(v, ty).map_err(|e| decode_error(what, &e))
}

fn encode(v: &Value, ty: &Type, what: &str) -> Result<pb::DynamicValue, Diagnostics> {
    toproto::dynamic_value(v, ty).map_err(|e| encode_error(what, &e))
}

fn private(bytes: &[u8]) -> Result<Private, Diagnostics> {
    Private::from_bytes(bytes).map_err(|e| {
        Diagnostic::from_error(
            &e,
            "The provider's private state data is corrupt. Remove the resource from state and import it again.",
        )
        .into()
    })
}

fn identity_data(v: &Value, ty: &Type) -> Result<pb::ResourceIdentityData, Diagnostics> {
    Ok(pb::ResourceIdentityData {
        identity_data: Some(encode(v, ty, "resource identity")?),
    })
}

/// Logs the start of an RPC and returns a guard that logs its end with the elapsed time.
fn rpc_span(rpc: &'static str, type_name: &str) -> RpcLog {
    tracing::debug!(tf_rpc = rpc, tf_type = type_name, "Received request");
    RpcLog {
        rpc,
        type_name: type_name.to_string(),
        start: Instant::now(),
    }
}

struct RpcLog {
    rpc: &'static str,
    type_name: String,
    start: Instant,
}

impl Drop for RpcLog {
    fn drop(&mut self) {
        tracing::debug!(
            tf_rpc = self.rpc,
            tf_type = %self.type_name,
            elapsed_ms = self.start.elapsed().as_secs_f64() * 1000.0,
            "Served request"
        );
    }
}

/// Write-only attributes set in `config` while the client cannot handle them.
fn write_only_set(
    block: &Block,
    config: &Value,
    path: &AttributePath,
    out: &mut Vec<AttributePath>,
) {
    for a in &block.attributes {
        let Some(v) = config.attr(&a.name) else {
            continue;
        };
        let p = path.join_attr(&a.name);
        if a.write_only && !v.is_null() {
            out.push(p);
        } else if let AttributeType::Nested { attributes, .. } = &a.ty
            && let Value::Object(_) = v
        {
            let inner = Block {
                attributes: attributes.clone(),
                ..Block::default()
            };
            write_only_set(&inner, v, &p, out);
        }
    }
}

/// Removes from stored state JSON the attributes the current schema no longer has, so a
/// state written by an older provider of the same schema version still decodes.
fn prune_json(v: serde_json::Value, ty: &Type) -> serde_json::Value {
    use serde_json::Value as J;
    match (v, ty) {
        (J::Object(map), Type::Object { attributes, .. }) => J::Object(
            map.into_iter()
                .filter_map(|(k, v)| attributes.get(&k).map(|t| (k, prune_json(v, t))))
                .collect(),
        ),
        (J::Array(items), Type::List(t) | Type::Set(t)) => {
            J::Array(items.into_iter().map(|i| prune_json(i, t)).collect())
        }
        (J::Object(map), Type::Map(t)) => J::Object(
            map.into_iter()
                .map(|(k, v)| (k, prune_json(v, t)))
                .collect(),
        ),
        (v, _) => v,
    }
}

fn diags_only<T>(d: Diagnostics, f: impl FnOnce(Vec<pb::Diagnostic>) -> T) -> RpcResult<T> {
    Ok(Response::new(f(toproto::diagnostics(d))))
}

impl ProviderService {
    async fn apply_inner(
        &self,
        req: pb::apply_resource_change::Request,
    ) -> Result<pb::apply_resource_change::Response, Diagnostics> {
        let r = self.resource(&req.type_name)?;
        let prior = decode(req.prior_state.as_ref(), &r.ty, "prior state")?;
        let planned = decode(req.planned_state.as_ref(), &r.ty, "planned state")?;
        let config = decode(req.config.as_ref(), &r.ty, "configuration")?;
        let private = private(&req.planned_private)?;
        let planned_identity = match &r.identity {
            Some((_, ty)) => fromproto::identity(req.planned_identity.as_ref(), ty)
                .map_err(|e| decode_error("planned identity", &e))?,
            None => None,
        };
        let ctx = self.context().await;
        let mut result = if planned.is_null() {
            let timeout = operation_timeout(&prior, "delete");
            let fut = r.imp.delete(
                &ctx,
                DeleteRequest {
                    prior: prior.clone(),
                    private: private.clone(),
                    timeout,
                },
            );
            let diags = with_timeout(timeout, "delete", fut)
                .await
                .unwrap_or_else(|d| d);
            // When delete failed, the object still exists: keep it in state.
            let state = if diags.has_errors() {
                prior.clone()
            } else {
                Value::Null
            };
            StateResult {
                state,
                private,
                identity: None,
                diags,
            }
        } else {
            let creating = prior.is_null();
            let op = if creating { "create" } else { "update" };
            let timeout = operation_timeout(&planned, op);
            let request = ApplyRequest {
                config,
                prior: prior.clone(),
                planned,
                private,
                timeout,
            };
            let fut = async {
                if creating {
                    r.imp.create(&ctx, request).await
                } else {
                    r.imp.update(&ctx, request).await
                }
            };
            with_timeout(timeout, op, fut)
                .await
                .unwrap_or_else(|d| StateResult::failed(prior.clone(), d))
        };
        null_write_only(&r.schema.block, &mut result.state);
        let new_identity = match (&r.identity, result.identity.take().or(planned_identity)) {
            (Some((_, ty)), Some(id)) if !result.state.is_null() => Some(identity_data(&id, ty)?),
            _ => None,
        };
        Ok(pb::apply_resource_change::Response {
            new_state: Some(encode(&result.state, &r.ty, "new state")?),
            private: result.private.to_bytes(),
            diagnostics: toproto::diagnostics(result.diags),
            legacy_type_system: false,
            new_identity,
        })
    }

    async fn plan_inner(
        &self,
        req: pb::plan_resource_change::Request,
    ) -> Result<pb::plan_resource_change::Response, Diagnostics> {
        let r = self.resource(&req.type_name)?;
        let prior = decode(req.prior_state.as_ref(), &r.ty, "prior state")?;
        let proposed = decode(req.proposed_new_state.as_ref(), &r.ty, "proposed new state")?;
        let config = decode(req.config.as_ref(), &r.ty, "configuration")?;
        let mut change = plan::plan_attributes(&r.schema, &prior, &config, &proposed);
        if !proposed.is_null() && !change.diags.has_errors() {
            let ctx = self.context().await;
            r.imp.modify_plan(&ctx, &prior, &config, &mut change).await;
            plan::sort_paths(&mut change.requires_replace);
        }
        let planned_identity = match &r.identity {
            Some((_, ty)) => fromproto::identity(req.prior_identity.as_ref(), ty)
                .map_err(|e| decode_error("prior identity", &e))?
                .map(|id| identity_data(&id, ty))
                .transpose()?,
            None => None,
        };
        Ok(pb::plan_resource_change::Response {
            planned_state: Some(encode(&change.planned, &r.ty, "planned state")?),
            requires_replace: change
                .requires_replace
                .iter()
                .map(toproto::attribute_path)
                .collect(),
            planned_private: req.prior_private,
            diagnostics: toproto::diagnostics(change.diags),
            legacy_type_system: false,
            deferred: None,
            planned_identity,
        })
    }

    async fn read_inner(
        &self,
        req: pb::read_resource::Request,
    ) -> Result<pb::read_resource::Response, Diagnostics> {
        let r = self.resource(&req.type_name)?;
        let state = decode(req.current_state.as_ref(), &r.ty, "current state")?;
        let private = private(&req.private)?;
        let identity = match &r.identity {
            Some((_, ty)) => fromproto::identity(req.current_identity.as_ref(), ty)
                .map_err(|e| decode_error("current identity", &e))?,
            None => None,
        };
        if state.is_null() {
            return Ok(pb::read_resource::Response {
                new_state: Some(encode(&Value::Null, &r.ty, "state")?),
                private: req.private,
                ..Default::default()
            });
        }
        let ctx = self.context().await;
        let timeout = operation_timeout(&state, "read");
        let fallback = state.clone();
        let mut result = with_timeout(
            timeout,
            "read",
            r.imp.read(
                &ctx,
                ReadRequest {
                    state,
                    private,
                    identity: identity.clone(),
                },
            ),
        )
        .await
        .unwrap_or_else(|d| StateResult::failed(fallback, d));
        null_write_only(&r.schema.block, &mut result.state);
        let new_identity = match (&r.identity, result.identity.take().or(identity)) {
            (Some((_, ty)), Some(id)) if !result.state.is_null() => Some(identity_data(&id, ty)?),
            _ => None,
        };
        Ok(pb::read_resource::Response {
            new_state: Some(encode(&result.state, &r.ty, "state")?),
            diagnostics: toproto::diagnostics(result.diags),
            private: result.private.to_bytes(),
            deferred: None,
            new_identity,
        })
    }

    async fn import_inner(
        &self,
        req: pb::import_resource_state::Request,
    ) -> Result<pb::import_resource_state::Response, Diagnostics> {
        let r = self.resource(&req.type_name)?;
        let request = match (&r.identity, req.identity.as_ref()) {
            (Some((_, ty)), Some(id)) if id.identity_data.is_some() => {
                let v = fromproto::identity(Some(id), ty)
                    .map_err(|e| decode_error("identity", &e))?
                    .unwrap_or(Value::Null);
                ImportRequest::Identity(v)
            }
            (None, Some(id)) if id.identity_data.is_some() => {
                return Err(Diagnostic::error(
                    format!("{} cannot be imported by identity", req.type_name),
                    "Use an import block with `id` instead of `identity`.",
                )
                .into());
            }
            _ => ImportRequest::Id(req.id.clone()),
        };
        let ctx = self.context().await;
        let mut result = r.imp.import(&ctx, request).await;
        if result.diags.has_errors() || result.state.is_null() {
            let mut diags = result.diags;
            if !diags.has_errors() {
                diags.error(
                    format!("Cannot import {} {:?}", req.type_name, req.id),
                    "Nothing with that ID exists. Check the ID's format in the resource's documentation.",
                );
            }
            return Err(diags);
        }
        null_write_only(&r.schema.block, &mut result.state);
        let identity = match (&r.identity, result.identity.take()) {
            (Some((_, ty)), Some(id)) => Some(identity_data(&id, ty)?),
            _ => None,
        };
        Ok(pb::import_resource_state::Response {
            imported_resources: vec![pb::import_resource_state::ImportedResource {
                type_name: req.type_name.clone(),
                state: Some(encode(&result.state, &r.ty, "imported state")?),
                private: result.private.to_bytes(),
                identity,
            }],
            diagnostics: toproto::diagnostics(result.diags),
            deferred: None,
        })
    }

    fn upgrade_inner(
        &self,
        req: pb::upgrade_resource_state::Request,
    ) -> Result<pb::upgrade_resource_state::Response, Diagnostics> {
        let r = self.resource(&req.type_name)?;
        let raw = req.raw_state.unwrap_or_default();
        if raw.json.is_empty() {
            if raw.flatmap.is_empty() {
                return Ok(pb::upgrade_resource_state::Response {
                    upgraded_state: Some(encode(&Value::Null, &r.ty, "state")?),
                    diagnostics: Vec::new(),
                });
            }
            return Err(Diagnostic::error(
                "Cannot read legacy state",
                "This state was written in the flatmap format of Terraform 0.11, which rack never used. Remove the resource from state and import it again.",
            )
            .into());
        }
        let json: serde_json::Value = serde_json::from_slice(&raw.json).map_err(|e| {
            Diagnostics::from(Diagnostic::from_error(
                &e,
                "The stored state is not valid JSON. Restore the state file from a backup.",
            ))
        })?;
        let current = r.schema.version;
        let json = if req.version == current {
            json
        } else if req.version < current {
            r.imp
                .upgrade_state(req.version, json)
                .map_err(Diagnostics::from)?
        } else {
            return Err(Diagnostic::error(
                "State was written by a newer provider",
                format!(
                    "{} state has schema version {}, but this provider knows only up to {current}. Use the newer provider version.",
                    req.type_name, req.version
                ),
            )
            .into());
        };
        let pruned = prune_json(json, &r.ty);
        let bytes = serde_json::to_vec(&pruned).unwrap_or_default();
        let value = crate::protocol::json::decode(&bytes, &r.ty)
            .map_err(|e| decode_error("stored state", &e))?;
        Ok(pb::upgrade_resource_state::Response {
            upgraded_state: Some(encode(&value, &r.ty, "upgraded state")?),
            diagnostics: Vec::new(),
        })
    }

    async fn configure_inner(&self, req: pb::configure_provider::Request) -> Diagnostics {
        let mut config = match decode(
            req.config.as_ref(),
            &self.provider_type,
            "provider configuration",
        ) {
            Ok(c) => c,
            Err(d) => return d,
        };
        tracing::info!(terraform_version = %req.terraform_version, "Configuring provider");
        let mut diags = Diagnostics::new();
        let block = &self.provider_schema.block;
        env::apply_env(
            block,
            &mut config,
            &AttributePath::root(),
            &|k| std::env::var(k).ok(),
            &mut diags,
        );
        validate_block(block, &config, &AttributePath::root(), &mut diags);
        if diags.has_errors() {
            return diags;
        }
        let data = self.provider.configure(config, &mut diags).await;
        if !diags.has_errors() {
            *self.data.write().await = data;
        }
        diags
    }

    async fn validate_resource_inner(
        &self,
        req: pb::validate_resource_config::Request,
    ) -> Result<Diagnostics, Diagnostics> {
        let r = self.resource(&req.type_name)?;
        let config = decode(req.config.as_ref(), &r.ty, "configuration")?;
        let caps: ClientCapabilities =
            fromproto::client_capabilities(req.client_capabilities.as_ref());
        let mut diags = Diagnostics::new();
        if !caps.write_only_attributes_allowed {
            let mut set = Vec::new();
            write_only_set(&r.schema.block, &config, &AttributePath::root(), &mut set);
            for path in set {
                diags.error_at(
                    path,
                    "Write-only attribute not supported by this Terraform",
                    "This attribute is write-only, which needs Terraform 1.11 or later. Upgrade Terraform, or leave the attribute unset.",
                );
            }
        }
        validate_block(&r.schema.block, &config, &AttributePath::root(), &mut diags);
        r.imp.validate(&config, &mut diags).await;
        Ok(diags)
    }
}

async fn with_timeout<T>(
    timeout: Duration,
    op: &str,
    fut: impl std::future::Future<Output = T>,
) -> Result<T, Diagnostics> {
    tokio::time::timeout(timeout, fut).await.map_err(|_| {
        Diagnostic::error(
            format!("Timed out during {op}"),
            format!(
                "The operation did not finish within {}s. Check that the backend is reachable and responsive, or raise `timeouts.{op}`.",
                timeout.as_secs()
            ),
        )
        .into()
    })
}

fn flatten<T: Default>(
    r: Result<T, Diagnostics>,
    set: impl FnOnce(&mut T, Vec<pb::Diagnostic>),
) -> RpcResult<T> {
    Ok(Response::new(match r {
        Ok(v) => v,
        Err(d) => {
            let mut v = T::default();
            set(&mut v, toproto::diagnostics(d));
            v
        }
    }))
}

fn unsupported(what: &str) -> Diagnostics {
    Diagnostic::error(
        format!("{what} is not supported by the rack provider"),
        "This provider does not offer this feature.",
    )
    .into()
}

#[tonic::async_trait]
impl ProviderRpc for ProviderService {
    async fn get_metadata(
        &self,
        _req: Request<pb::get_metadata::Request>,
    ) -> RpcResult<pb::get_metadata::Response> {
        let _log = rpc_span("GetMetadata", "");
        use pb::get_metadata as m;
        Ok(Response::new(m::Response {
            server_capabilities: Some(Self::server_capabilities()),
            diagnostics: Vec::new(),
            data_sources: self
                .data_sources
                .keys()
                .map(|k| m::DataSourceMetadata {
                    type_name: k.to_string(),
                })
                .collect(),
            resources: self
                .resources
                .keys()
                .map(|k| m::ResourceMetadata {
                    type_name: k.to_string(),
                })
                .collect(),
            functions: self
                .functions
                .keys()
                .map(|k| m::FunctionMetadata {
                    name: k.to_string(),
                })
                .collect(),
            ephemeral_resources: self
                .ephemeral
                .keys()
                .map(|k| m::EphemeralMetadata {
                    type_name: k.to_string(),
                })
                .collect(),
            list_resources: self
                .lists
                .keys()
                .map(|k| m::ListResourceMetadata {
                    type_name: k.to_string(),
                })
                .collect(),
            state_stores: Vec::new(),
            actions: Vec::new(),
        }))
    }

    async fn get_provider_schema(
        &self,
        _req: Request<pb::get_provider_schema::Request>,
    ) -> RpcResult<pb::get_provider_schema::Response> {
        let _log = rpc_span("GetProviderSchema", "");
        Ok(Response::new(self.provider_schema_response()))
    }

    async fn validate_provider_config(
        &self,
        req: Request<pb::validate_provider_config::Request>,
    ) -> RpcResult<pb::validate_provider_config::Response> {
        let _log = rpc_span("ValidateProviderConfig", "");
        let req = req.into_inner();
        let diags = match decode(
            req.config.as_ref(),
            &self.provider_type,
            "provider configuration",
        ) {
            Ok(config) => {
                let mut diags = Diagnostics::new();
                validate_block(
                    &self.provider_schema.block,
                    &config,
                    &AttributePath::root(),
                    &mut diags,
                );
                self.provider.validate(&config, &mut diags).await;
                diags
            }
            Err(d) => d,
        };
        diags_only(diags, |diagnostics| {
            pb::validate_provider_config::Response { diagnostics }
        })
    }

    async fn validate_resource_config(
        &self,
        req: Request<pb::validate_resource_config::Request>,
    ) -> RpcResult<pb::validate_resource_config::Response> {
        let req = req.into_inner();
        let _log = rpc_span("ValidateResourceConfig", &req.type_name);
        let diags = self
            .validate_resource_inner(req)
            .await
            .unwrap_or_else(|d| d);
        diags_only(diags, |diagnostics| {
            pb::validate_resource_config::Response { diagnostics }
        })
    }

    async fn validate_data_resource_config(
        &self,
        req: Request<pb::validate_data_resource_config::Request>,
    ) -> RpcResult<pb::validate_data_resource_config::Response> {
        let req = req.into_inner();
        let _log = rpc_span("ValidateDataResourceConfig", &req.type_name);
        let diags = match self.data_sources.get(req.type_name.as_str()) {
            None => unknown_type("data source", &req.type_name),
            Some(d) => match decode(req.config.as_ref(), &d.ty, "configuration") {
                Err(e) => e,
                Ok(config) => {
                    let mut diags = Diagnostics::new();
                    validate_block(&d.schema.block, &config, &AttributePath::root(), &mut diags);
                    d.imp.validate(&config, &mut diags).await;
                    diags
                }
            },
        };
        diags_only(diags, |diagnostics| {
            pb::validate_data_resource_config::Response { diagnostics }
        })
    }

    async fn upgrade_resource_state(
        &self,
        req: Request<pb::upgrade_resource_state::Request>,
    ) -> RpcResult<pb::upgrade_resource_state::Response> {
        let req = req.into_inner();
        let _log = rpc_span("UpgradeResourceState", &req.type_name);
        flatten(self.upgrade_inner(req), |r, d| r.diagnostics = d)
    }

    async fn get_resource_identity_schemas(
        &self,
        _req: Request<pb::get_resource_identity_schemas::Request>,
    ) -> RpcResult<pb::get_resource_identity_schemas::Response> {
        let _log = rpc_span("GetResourceIdentitySchemas", "");
        Ok(Response::new(pb::get_resource_identity_schemas::Response {
            identity_schemas: self
                .resources
                .iter()
                .filter_map(|(k, r)| {
                    r.identity
                        .as_ref()
                        .map(|(s, _)| (k.to_string(), toproto::identity_schema(s)))
                })
                .collect(),
            diagnostics: Vec::new(),
        }))
    }

    async fn upgrade_resource_identity(
        &self,
        req: Request<pb::upgrade_resource_identity::Request>,
    ) -> RpcResult<pb::upgrade_resource_identity::Response> {
        let req = req.into_inner();
        let _log = rpc_span("UpgradeResourceIdentity", &req.type_name);
        let result = (|| {
            let r = self.resource(&req.type_name)?;
            let Some((schema, ty)) = &r.identity else {
                return Err(unsupported("Resource identity for this type"));
            };
            if req.version != schema.version {
                return Err(Diagnostic::error(
                    "Cannot upgrade resource identity",
                    format!(
                        "{} identity version {} is not the current version {}. Use the provider version that wrote this state.",
                        req.type_name, req.version, schema.version
                    ),
                )
                .into());
            }
            let raw = req.raw_identity.unwrap_or_default();
            let value = crate::protocol::json::decode(&raw.json, ty)
                .map_err(|e| decode_error("stored identity", &e))?;
            Ok(pb::upgrade_resource_identity::Response {
                upgraded_identity: Some(identity_data(&value, ty)?),
                diagnostics: Vec::new(),
            })
        })();
        flatten(result, |r, d| r.diagnostics = d)
    }

    async fn configure_provider(
        &self,
        req: Request<pb::configure_provider::Request>,
    ) -> RpcResult<pb::configure_provider::Response> {
        let _log = rpc_span("ConfigureProvider", "");
        let diags = self.configure_inner(req.into_inner()).await;
        diags_only(diags, |diagnostics| pb::configure_provider::Response {
            diagnostics,
        })
    }

    async fn read_resource(
        &self,
        req: Request<pb::read_resource::Request>,
    ) -> RpcResult<pb::read_resource::Response> {
        let req = req.into_inner();
        let _log = rpc_span("ReadResource", &req.type_name);
        flatten(self.read_inner(req).await, |r, d| r.diagnostics = d)
    }

    async fn plan_resource_change(
        &self,
        req: Request<pb::plan_resource_change::Request>,
    ) -> RpcResult<pb::plan_resource_change::Response> {
        let req = req.into_inner();
        let _log = rpc_span("PlanResourceChange", &req.type_name);
        flatten(self.plan_inner(req).await, |r, d| r.diagnostics = d)
    }

    async fn apply_resource_change(
        &self,
        req: Request<pb::apply_resource_change::Request>,
    ) -> RpcResult<pb::apply_resource_change::Response> {
        let req = req.into_inner();
        let _log = rpc_span("ApplyResourceChange", &req.type_name);
        flatten(self.apply_inner(req).await, |r, d| r.diagnostics = d)
    }

    async fn import_resource_state(
        &self,
        req: Request<pb::import_resource_state::Request>,
    ) -> RpcResult<pb::import_resource_state::Response> {
        let req = req.into_inner();
        let _log = rpc_span("ImportResourceState", &req.type_name);
        flatten(self.import_inner(req).await, |r, d| r.diagnostics = d)
    }

    async fn move_resource_state(
        &self,
        req: Request<pb::move_resource_state::Request>,
    ) -> RpcResult<pb::move_resource_state::Response> {
        let req = req.into_inner();
        let _log = rpc_span("MoveResourceState", &req.target_type_name);
        diags_only(
            unsupported("Moving resource state between types"),
            |diagnostics| pb::move_resource_state::Response {
                diagnostics,
                ..Default::default()
            },
        )
    }

    async fn read_data_source(
        &self,
        req: Request<pb::read_data_source::Request>,
    ) -> RpcResult<pb::read_data_source::Response> {
        let req = req.into_inner();
        let _log = rpc_span("ReadDataSource", &req.type_name);
        let result = async {
            let d = self
                .data_sources
                .get(req.type_name.as_str())
                .ok_or_else(|| unknown_type("data source", &req.type_name))?;
            let config = decode(req.config.as_ref(), &d.ty, "configuration")?;
            let ctx = self.context().await;
            let (state, diags) = d.imp.read(&ctx, config).await;
            let state = if diags.has_errors() && state.is_null() {
                None
            } else {
                Some(encode(&state, &d.ty, "data source state")?)
            };
            Ok(pb::read_data_source::Response {
                state,
                diagnostics: toproto::diagnostics(diags),
                deferred: None,
            })
        }
        .await;
        flatten(result, |r, d| r.diagnostics = d)
    }

    async fn generate_resource_config(
        &self,
        req: Request<pb::generate_resource_config::Request>,
    ) -> RpcResult<pb::generate_resource_config::Response> {
        let req = req.into_inner();
        let _log = rpc_span("GenerateResourceConfig", &req.type_name);
        diags_only(
            unsupported("Generating resource configuration"),
            |diagnostics| pb::generate_resource_config::Response {
                diagnostics,
                ..Default::default()
            },
        )
    }

    async fn validate_ephemeral_resource_config(
        &self,
        req: Request<pb::validate_ephemeral_resource_config::Request>,
    ) -> RpcResult<pb::validate_ephemeral_resource_config::Response> {
        let req = req.into_inner();
        let _log = rpc_span("ValidateEphemeralResourceConfig", &req.type_name);
        let diags = match self.ephemeral.get(req.type_name.as_str()) {
            None => unknown_type("ephemeral resource", &req.type_name),
            Some(e) => match decode(req.config.as_ref(), &e.ty, "configuration") {
                Err(d) => d,
                Ok(config) => {
                    let mut diags = Diagnostics::new();
                    validate_block(&e.schema.block, &config, &AttributePath::root(), &mut diags);
                    e.imp.validate(&config, &mut diags).await;
                    diags
                }
            },
        };
        diags_only(diags, |diagnostics| {
            pb::validate_ephemeral_resource_config::Response { diagnostics }
        })
    }

    async fn open_ephemeral_resource(
        &self,
        req: Request<pb::open_ephemeral_resource::Request>,
    ) -> RpcResult<pb::open_ephemeral_resource::Response> {
        let req = req.into_inner();
        let _log = rpc_span("OpenEphemeralResource", &req.type_name);
        let result = async {
            let e = self
                .ephemeral
                .get(req.type_name.as_str())
                .ok_or_else(|| unknown_type("ephemeral resource", &req.type_name))?;
            let config = decode(req.config.as_ref(), &e.ty, "configuration")?;
            let ctx = self.context().await;
            let out = e.imp.open(&ctx, config).await;
            let result = if out.diags.has_errors() {
                None
            } else {
                Some(encode(&out.result, &e.ty, "ephemeral result")?)
            };
            Ok(pb::open_ephemeral_resource::Response {
                diagnostics: toproto::diagnostics(out.diags),
                renew_at: out.renew_at.map(prost_types::Timestamp::from),
                result,
                private: Some(out.private.to_bytes()),
                deferred: None,
            })
        }
        .await;
        flatten(result, |r, d| r.diagnostics = d)
    }

    async fn renew_ephemeral_resource(
        &self,
        req: Request<pb::renew_ephemeral_resource::Request>,
    ) -> RpcResult<pb::renew_ephemeral_resource::Response> {
        let req = req.into_inner();
        let _log = rpc_span("RenewEphemeralResource", &req.type_name);
        let result = async {
            let e = self
                .ephemeral
                .get(req.type_name.as_str())
                .ok_or_else(|| unknown_type("ephemeral resource", &req.type_name))?;
            let private = private(req.private.as_deref().unwrap_or_default())?;
            let ctx = self.context().await;
            let out = e.imp.renew(&ctx, private).await;
            Ok(pb::renew_ephemeral_resource::Response {
                diagnostics: toproto::diagnostics(out.diags),
                renew_at: out.renew_at.map(prost_types::Timestamp::from),
                private: Some(out.private.to_bytes()),
            })
        }
        .await;
        flatten(result, |r, d| r.diagnostics = d)
    }

    async fn close_ephemeral_resource(
        &self,
        req: Request<pb::close_ephemeral_resource::Request>,
    ) -> RpcResult<pb::close_ephemeral_resource::Response> {
        let req = req.into_inner();
        let _log = rpc_span("CloseEphemeralResource", &req.type_name);
        let diags = async {
            let e = self
                .ephemeral
                .get(req.type_name.as_str())
                .ok_or_else(|| unknown_type("ephemeral resource", &req.type_name))?;
            let private = private(req.private.as_deref().unwrap_or_default())?;
            let ctx = self.context().await;
            Ok::<_, Diagnostics>(e.imp.close(&ctx, private).await)
        }
        .await
        .unwrap_or_else(|d| d);
        diags_only(diags, |diagnostics| {
            pb::close_ephemeral_resource::Response { diagnostics }
        })
    }

    type ListResourceStream = BoxStream<pb::list_resource::Event>;

    async fn list_resource(
        &self,
        req: Request<pb::list_resource::Request>,
    ) -> RpcResult<Self::ListResourceStream> {
        let req = req.into_inner();
        let _log = rpc_span("ListResource", &req.type_name);
        let error_stream = |d: Diagnostics| -> Self::ListResourceStream {
            let event = pb::list_resource::Event {
                diagnostic: toproto::diagnostics(d),
                ..Default::default()
            };
            Box::pin(futures::stream::iter([Ok(event)]))
        };
        let Some(l) = self.lists.get(req.type_name.as_str()) else {
            return Ok(Response::new(error_stream(unknown_type(
                "list resource",
                &req.type_name,
            ))));
        };
        let Some(r) = self.resources.get(req.type_name.as_str()) else {
            return Ok(Response::new(error_stream(unknown_type(
                "resource",
                &req.type_name,
            ))));
        };
        let Some((_, identity_ty)) = r.identity.clone() else {
            return Ok(Response::new(error_stream(unsupported(
                "Listing a resource without identity",
            ))));
        };
        let config = match decode(req.config.as_ref(), &l.ty, "list configuration") {
            Ok(c) => c,
            Err(d) => return Ok(Response::new(error_stream(d))),
        };
        let (tx, mut rx) = mpsc::channel(LIST_BUFFER);
        let imp = l.imp.clone();
        let ctx = self.context().await;
        let request = ListRequest {
            config,
            include_resource: req.include_resource_object,
            limit: req.limit,
        };
        tokio::spawn(async move { imp.list(&ctx, request, ListSink(tx)).await });
        let resource_ty = r.ty.clone();
        let limit = usize::try_from(req.limit).ok().filter(|l| *l > 0);
        let stream = async_stream(
            move |out: mpsc::Sender<Result<pb::list_resource::Event, Status>>| async move {
                let mut sent = 0usize;
                while let Some(item) = rx.recv().await {
                    let event = match item {
                        Err(d) => pb::list_resource::Event {
                            diagnostic: vec![toproto::diagnostic(&d)],
                            ..Default::default()
                        },
                        Ok(item) => {
                            let encoded =
                                identity_data(&item.identity, &identity_ty).and_then(|id| {
                                    let obj = item
                                        .resource
                                        .as_ref()
                                        .map(|v| encode(v, &resource_ty, "listed resource"))
                                        .transpose()?;
                                    Ok((id, obj))
                                });
                            match encoded {
                                Ok((identity, resource_object)) => {
                                    sent += 1;
                                    pb::list_resource::Event {
                                        identity: Some(identity),
                                        display_name: item.display_name,
                                        resource_object,
                                        diagnostic: Vec::new(),
                                    }
                                }
                                Err(d) => pb::list_resource::Event {
                                    diagnostic: toproto::diagnostics(d),
                                    ..Default::default()
                                },
                            }
                        }
                    };
                    if out.send(Ok(event)).await.is_err() {
                        break;
                    }
                    if limit.is_some_and(|l| sent >= l) {
                        break;
                    }
                }
            },
        );
        Ok(Response::new(stream))
    }

    async fn validate_list_resource_config(
        &self,
        req: Request<pb::validate_list_resource_config::Request>,
    ) -> RpcResult<pb::validate_list_resource_config::Response> {
        let req = req.into_inner();
        let _log = rpc_span("ValidateListResourceConfig", &req.type_name);
        let diags = match self.lists.get(req.type_name.as_str()) {
            None => unknown_type("list resource", &req.type_name),
            Some(l) => match decode(req.config.as_ref(), &l.ty, "list configuration") {
                Err(d) => d,
                Ok(config) => {
                    let mut diags = Diagnostics::new();
                    validate_block(&l.schema.block, &config, &AttributePath::root(), &mut diags);
                    l.imp.validate(&config, &mut diags).await;
                    diags
                }
            },
        };
        diags_only(diags, |diagnostics| {
            pb::validate_list_resource_config::Response { diagnostics }
        })
    }

    async fn get_functions(
        &self,
        _req: Request<pb::get_functions::Request>,
    ) -> RpcResult<pb::get_functions::Response> {
        let _log = rpc_span("GetFunctions", "");
        Ok(Response::new(pb::get_functions::Response {
            functions: self.function_definitions(),
            diagnostics: Vec::new(),
        }))
    }

    async fn call_function(
        &self,
        req: Request<pb::call_function::Request>,
    ) -> RpcResult<pb::call_function::Response> {
        let req = req.into_inner();
        let _log = rpc_span("CallFunction", &req.name);
        let fail = |e: crate::framework::resource::FunctionError| {
            Ok(Response::new(pb::call_function::Response {
                result: None,
                error: Some(toproto::function_error(&e)),
            }))
        };
        let Some(f) = self.functions.get(req.name.as_str()) else {
            return fail(crate::framework::resource::FunctionError {
                text: format!("This provider has no function {:?}", req.name),
                argument: None,
            });
        };
        let sig = &f.signature;
        let mut args = Vec::with_capacity(req.arguments.len());
        for (i, a) in req.arguments.iter().enumerate() {
            let param = sig.parameters.get(i).or(sig.variadic.as_ref());
            let Some(param) = param else {
                return fail(crate::framework::resource::FunctionError {
                    text: format!(
                        "Too many arguments: {} takes {}",
                        req.name,
                        sig.parameters.len()
                    ),
                    argument: Some(i),
                });
            };
            match fromproto::dynamic_value(Some(a), &param.ty) {
                Ok(v) => args.push(v),
                Err(e) => {
                    return fail(crate::framework::resource::FunctionError::argument(
                        i,
                        format!("Invalid value for {}: {e}", param.name),
                    ));
                }
            }
        }
        match f.imp.call(args).await {
            Ok(v) => match toproto::dynamic_value(&v, &sig.returns) {
                Ok(result) => Ok(Response::new(pb::call_function::Response {
                    result: Some(result),
                    error: None,
                })),
                Err(e) => fail(crate::framework::resource::FunctionError {
                    text: format!(
                        "The function produced an invalid result ({e}); this is a bug in the provider"
                    ),
                    argument: None,
                }),
            },
            Err(e) => fail(e),
        }
    }

    async fn validate_state_store_config(
        &self,
        _req: Request<pb::validate_state_store::Request>,
    ) -> RpcResult<pb::validate_state_store::Response> {
        diags_only(unsupported("State storage"), |diagnostics| {
            pb::validate_state_store::Response { diagnostics }
        })
    }

    async fn configure_state_store(
        &self,
        _req: Request<pb::configure_state_store::Request>,
    ) -> RpcResult<pb::configure_state_store::Response> {
        diags_only(unsupported("State storage"), |diagnostics| {
            pb::configure_state_store::Response {
                diagnostics,
                ..Default::default()
            }
        })
    }

    type ReadStateBytesStream = BoxStream<pb::read_state_bytes::Response>;

    async fn read_state_bytes(
        &self,
        _req: Request<pb::read_state_bytes::Request>,
    ) -> RpcResult<Self::ReadStateBytesStream> {
        let event = pb::read_state_bytes::Response {
            diagnostics: toproto::diagnostics(unsupported("State storage")),
            ..Default::default()
        };
        Ok(Response::new(Box::pin(futures::stream::iter([Ok(event)]))))
    }

    async fn write_state_bytes(
        &self,
        _req: Request<Streaming<pb::write_state_bytes::RequestChunk>>,
    ) -> RpcResult<pb::write_state_bytes::Response> {
        diags_only(unsupported("State storage"), |diagnostics| {
            pb::write_state_bytes::Response { diagnostics }
        })
    }

    async fn lock_state(
        &self,
        _req: Request<pb::lock_state::Request>,
    ) -> RpcResult<pb::lock_state::Response> {
        diags_only(unsupported("State storage"), |diagnostics| {
            pb::lock_state::Response {
                diagnostics,
                ..Default::default()
            }
        })
    }

    async fn unlock_state(
        &self,
        _req: Request<pb::unlock_state::Request>,
    ) -> RpcResult<pb::unlock_state::Response> {
        diags_only(unsupported("State storage"), |diagnostics| {
            pb::unlock_state::Response { diagnostics }
        })
    }

    async fn get_states(
        &self,
        _req: Request<pb::get_states::Request>,
    ) -> RpcResult<pb::get_states::Response> {
        diags_only(unsupported("State storage"), |diagnostics| {
            pb::get_states::Response {
                diagnostics,
                ..Default::default()
            }
        })
    }

    async fn delete_state(
        &self,
        _req: Request<pb::delete_state::Request>,
    ) -> RpcResult<pb::delete_state::Response> {
        diags_only(unsupported("State storage"), |diagnostics| {
            pb::delete_state::Response { diagnostics }
        })
    }

    async fn plan_action(
        &self,
        _req: Request<pb::plan_action::Request>,
    ) -> RpcResult<pb::plan_action::Response> {
        diags_only(unsupported("Actions"), |diagnostics| {
            pb::plan_action::Response {
                diagnostics,
                deferred: None,
            }
        })
    }

    type InvokeActionStream = BoxStream<pb::invoke_action::Event>;

    async fn invoke_action(
        &self,
        _req: Request<pb::invoke_action::Request>,
    ) -> RpcResult<Self::InvokeActionStream> {
        let event = pb::invoke_action::Event {
            r#type: Some(pb::invoke_action::event::Type::Completed(
                pb::invoke_action::event::Completed {
                    diagnostics: toproto::diagnostics(unsupported("Actions")),
                },
            )),
        };
        Ok(Response::new(Box::pin(futures::stream::iter([Ok(event)]))))
    }

    async fn validate_action_config(
        &self,
        _req: Request<pb::validate_action_config::Request>,
    ) -> RpcResult<pb::validate_action_config::Response> {
        diags_only(unsupported("Actions"), |diagnostics| {
            pb::validate_action_config::Response { diagnostics }
        })
    }

    async fn stop_provider(
        &self,
        _req: Request<pb::stop_provider::Request>,
    ) -> RpcResult<pb::stop_provider::Response> {
        let _log = rpc_span("StopProvider", "");
        self.stopped.store(true, Ordering::Relaxed);
        Ok(Response::new(pb::stop_provider::Response {
            error: String::new(),
        }))
    }
}

/// A stream fed by a task: `body` gets the sending half and runs until done.
fn async_stream<T, F, Fut>(body: F) -> BoxStream<T>
where
    T: Send + 'static,
    F: FnOnce(mpsc::Sender<Result<T, Status>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(LIST_BUFFER);
    tokio::spawn(body(tx));
    Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prune_drops_attributes_the_schema_lost() {
        let ty = Type::object([
            ("a", Type::String),
            (
                "l",
                Type::List(Box::new(Type::object([("x", Type::String)]))),
            ),
        ]);
        let v = serde_json::json!({"a": "1", "gone": 2, "l": [{"x": "y", "old": true}]});
        assert_eq!(
            prune_json(v, &ty),
            serde_json::json!({"a": "1", "l": [{"x": "y"}]})
        );
    }
}
