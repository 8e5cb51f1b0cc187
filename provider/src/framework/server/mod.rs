//! The tfplugin6 `Provider` gRPC service, implemented on top of the framework traits.
//!
//! Every handler has the same shape: log context -> convert in -> call the provider's code
//! -> check the answer against the client's capabilities -> convert out. A value that cannot
//! be decoded or encoded is reported as a diagnostic, never as a panic.
//!
//! This file holds the service, what every handler shares (decoding, encoding, logging,
//! timeouts) and the routing table: the `Provider` trait impl at the bottom hands each RPC
//! to its handler, one file per RPC family (`provider`, `resource`, `data_source`,
//! `ephemeral`, `list`, `function`, and `unsupported` for what rack does not offer).

mod data_source;
mod ephemeral;
mod function;
mod list;
mod provider;
mod resource;
mod unsupported;

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

fn diags_only<T>(d: Diagnostics, f: impl FnOnce(Vec<pb::Diagnostic>) -> T) -> RpcResult<T> {
    Ok(Response::new(f(toproto::diagnostics(d))))
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
        req: Request<pb::get_metadata::Request>,
    ) -> RpcResult<pb::get_metadata::Response> {
        self.serve_get_metadata(req).await
    }

    async fn get_provider_schema(
        &self,
        req: Request<pb::get_provider_schema::Request>,
    ) -> RpcResult<pb::get_provider_schema::Response> {
        self.serve_get_provider_schema(req).await
    }

    async fn validate_provider_config(
        &self,
        req: Request<pb::validate_provider_config::Request>,
    ) -> RpcResult<pb::validate_provider_config::Response> {
        self.serve_validate_provider_config(req).await
    }

    async fn validate_resource_config(
        &self,
        req: Request<pb::validate_resource_config::Request>,
    ) -> RpcResult<pb::validate_resource_config::Response> {
        self.serve_validate_resource_config(req).await
    }

    async fn validate_data_resource_config(
        &self,
        req: Request<pb::validate_data_resource_config::Request>,
    ) -> RpcResult<pb::validate_data_resource_config::Response> {
        self.serve_validate_data_resource_config(req).await
    }

    async fn upgrade_resource_state(
        &self,
        req: Request<pb::upgrade_resource_state::Request>,
    ) -> RpcResult<pb::upgrade_resource_state::Response> {
        self.serve_upgrade_resource_state(req).await
    }

    async fn get_resource_identity_schemas(
        &self,
        req: Request<pb::get_resource_identity_schemas::Request>,
    ) -> RpcResult<pb::get_resource_identity_schemas::Response> {
        self.serve_get_resource_identity_schemas(req).await
    }

    async fn upgrade_resource_identity(
        &self,
        req: Request<pb::upgrade_resource_identity::Request>,
    ) -> RpcResult<pb::upgrade_resource_identity::Response> {
        self.serve_upgrade_resource_identity(req).await
    }

    async fn configure_provider(
        &self,
        req: Request<pb::configure_provider::Request>,
    ) -> RpcResult<pb::configure_provider::Response> {
        self.serve_configure_provider(req).await
    }

    async fn read_resource(
        &self,
        req: Request<pb::read_resource::Request>,
    ) -> RpcResult<pb::read_resource::Response> {
        self.serve_read_resource(req).await
    }

    async fn plan_resource_change(
        &self,
        req: Request<pb::plan_resource_change::Request>,
    ) -> RpcResult<pb::plan_resource_change::Response> {
        self.serve_plan_resource_change(req).await
    }

    async fn apply_resource_change(
        &self,
        req: Request<pb::apply_resource_change::Request>,
    ) -> RpcResult<pb::apply_resource_change::Response> {
        self.serve_apply_resource_change(req).await
    }

    async fn import_resource_state(
        &self,
        req: Request<pb::import_resource_state::Request>,
    ) -> RpcResult<pb::import_resource_state::Response> {
        self.serve_import_resource_state(req).await
    }

    async fn move_resource_state(
        &self,
        req: Request<pb::move_resource_state::Request>,
    ) -> RpcResult<pb::move_resource_state::Response> {
        self.serve_move_resource_state(req).await
    }

    async fn read_data_source(
        &self,
        req: Request<pb::read_data_source::Request>,
    ) -> RpcResult<pb::read_data_source::Response> {
        self.serve_read_data_source(req).await
    }

    async fn generate_resource_config(
        &self,
        req: Request<pb::generate_resource_config::Request>,
    ) -> RpcResult<pb::generate_resource_config::Response> {
        self.serve_generate_resource_config(req).await
    }

    async fn validate_ephemeral_resource_config(
        &self,
        req: Request<pb::validate_ephemeral_resource_config::Request>,
    ) -> RpcResult<pb::validate_ephemeral_resource_config::Response> {
        self.serve_validate_ephemeral_resource_config(req).await
    }

    async fn open_ephemeral_resource(
        &self,
        req: Request<pb::open_ephemeral_resource::Request>,
    ) -> RpcResult<pb::open_ephemeral_resource::Response> {
        self.serve_open_ephemeral_resource(req).await
    }

    async fn renew_ephemeral_resource(
        &self,
        req: Request<pb::renew_ephemeral_resource::Request>,
    ) -> RpcResult<pb::renew_ephemeral_resource::Response> {
        self.serve_renew_ephemeral_resource(req).await
    }

    async fn close_ephemeral_resource(
        &self,
        req: Request<pb::close_ephemeral_resource::Request>,
    ) -> RpcResult<pb::close_ephemeral_resource::Response> {
        self.serve_close_ephemeral_resource(req).await
    }

    type ListResourceStream = BoxStream<pb::list_resource::Event>;

    async fn list_resource(
        &self,
        req: Request<pb::list_resource::Request>,
    ) -> RpcResult<Self::ListResourceStream> {
        self.serve_list_resource(req).await
    }

    async fn validate_list_resource_config(
        &self,
        req: Request<pb::validate_list_resource_config::Request>,
    ) -> RpcResult<pb::validate_list_resource_config::Response> {
        self.serve_validate_list_resource_config(req).await
    }

    async fn get_functions(
        &self,
        req: Request<pb::get_functions::Request>,
    ) -> RpcResult<pb::get_functions::Response> {
        self.serve_get_functions(req).await
    }

    async fn call_function(
        &self,
        req: Request<pb::call_function::Request>,
    ) -> RpcResult<pb::call_function::Response> {
        self.serve_call_function(req).await
    }

    async fn validate_state_store_config(
        &self,
        req: Request<pb::validate_state_store::Request>,
    ) -> RpcResult<pb::validate_state_store::Response> {
        self.serve_validate_state_store_config(req).await
    }

    async fn configure_state_store(
        &self,
        req: Request<pb::configure_state_store::Request>,
    ) -> RpcResult<pb::configure_state_store::Response> {
        self.serve_configure_state_store(req).await
    }

    type ReadStateBytesStream = BoxStream<pb::read_state_bytes::Response>;

    async fn read_state_bytes(
        &self,
        req: Request<pb::read_state_bytes::Request>,
    ) -> RpcResult<Self::ReadStateBytesStream> {
        self.serve_read_state_bytes(req).await
    }

    async fn write_state_bytes(
        &self,
        req: Request<Streaming<pb::write_state_bytes::RequestChunk>>,
    ) -> RpcResult<pb::write_state_bytes::Response> {
        self.serve_write_state_bytes(req).await
    }

    async fn lock_state(
        &self,
        req: Request<pb::lock_state::Request>,
    ) -> RpcResult<pb::lock_state::Response> {
        self.serve_lock_state(req).await
    }

    async fn unlock_state(
        &self,
        req: Request<pb::unlock_state::Request>,
    ) -> RpcResult<pb::unlock_state::Response> {
        self.serve_unlock_state(req).await
    }

    async fn get_states(
        &self,
        req: Request<pb::get_states::Request>,
    ) -> RpcResult<pb::get_states::Response> {
        self.serve_get_states(req).await
    }

    async fn delete_state(
        &self,
        req: Request<pb::delete_state::Request>,
    ) -> RpcResult<pb::delete_state::Response> {
        self.serve_delete_state(req).await
    }

    async fn plan_action(
        &self,
        req: Request<pb::plan_action::Request>,
    ) -> RpcResult<pb::plan_action::Response> {
        self.serve_plan_action(req).await
    }

    type InvokeActionStream = BoxStream<pb::invoke_action::Event>;

    async fn invoke_action(
        &self,
        req: Request<pb::invoke_action::Request>,
    ) -> RpcResult<Self::InvokeActionStream> {
        self.serve_invoke_action(req).await
    }

    async fn validate_action_config(
        &self,
        req: Request<pb::validate_action_config::Request>,
    ) -> RpcResult<pb::validate_action_config::Response> {
        self.serve_validate_action_config(req).await
    }

    async fn stop_provider(
        &self,
        req: Request<pb::stop_provider::Request>,
    ) -> RpcResult<pb::stop_provider::Response> {
        self.serve_stop_provider(req).await
    }
}
