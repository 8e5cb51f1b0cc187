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
    ListRequest, ListResource, ListSink, PlanRequest, Private, Provider, ProviderData, ReadRequest,
    Resource, StateResult,
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

/// A response that can carry diagnostics: every RPC whose work failed, or that has nothing
/// but diagnostics to say, answers through [`answer`].
trait Answer: Default {
    fn set_diagnostics(&mut self, diagnostics: Vec<pb::Diagnostic>);
}

macro_rules! answers {
    ($($rpc:ident),* $(,)?) => {
        $(impl Answer for pb::$rpc::Response {
            fn set_diagnostics(&mut self, diagnostics: Vec<pb::Diagnostic>) {
                self.diagnostics = diagnostics;
            }
        })*
    };
}

answers!(
    validate_provider_config,
    configure_provider,
    validate_resource_config,
    upgrade_resource_state,
    upgrade_resource_identity,
    read_resource,
    plan_resource_change,
    apply_resource_change,
    import_resource_state,
    move_resource_state,
    generate_resource_config,
    validate_data_resource_config,
    read_data_source,
    validate_ephemeral_resource_config,
    open_ephemeral_resource,
    renew_ephemeral_resource,
    close_ephemeral_resource,
    validate_list_resource_config,
    validate_state_store,
    configure_state_store,
    write_state_bytes,
    lock_state,
    unlock_state,
    get_states,
    delete_state,
    plan_action,
    validate_action_config,
);

/// A response holding nothing but `diags`.
fn answer<T: Answer>(diags: Diagnostics) -> RpcResult<T> {
    let mut response = T::default();
    response.set_diagnostics(toproto::diagnostics(diags));
    Ok(Response::new(response))
}

/// The response, or one holding nothing but the diagnostics of why there is none.
fn flatten<T: Answer>(r: Result<T, Diagnostics>) -> RpcResult<T> {
    match r {
        Ok(v) => Ok(Response::new(v)),
        Err(d) => answer(d),
    }
}

/// The type's own check of its configuration, which the validate RPCs of data sources,
/// ephemeral resources and list resources run after the schema's.
#[async_trait::async_trait]
trait ValidateConfig: Send + Sync {
    async fn validate_config(&self, config: &Value, diags: &mut Diagnostics);
}

macro_rules! validate_config {
    ($($kind:ident),*) => {
        $(#[async_trait::async_trait]
        impl ValidateConfig for dyn $kind {
            async fn validate_config(&self, config: &Value, diags: &mut Diagnostics) {
                self.validate(config, diags).await;
            }
        })*
    };
}

validate_config!(DataSource, EphemeralResource, ListResource);

/// Decodes the configuration of the `kind` named `type_name` and checks it against its
/// schema, then with the type's own validation.
async fn validate_entry<T: ValidateConfig + ?Sized>(
    entries: &BTreeMap<&'static str, TypedEntry<T>>,
    (kind, what): (&str, &str),
    type_name: &str,
    config: Option<&pb::DynamicValue>,
) -> Diagnostics {
    let Some(e) = entries.get(type_name) else {
        return unknown_type(kind, type_name);
    };
    match decode(config, &e.ty, what) {
        Err(d) => d,
        Ok(config) => {
            let mut diags = Diagnostics::new();
            validate_block(&e.schema.block, &config, &AttributePath::root(), &mut diags);
            e.imp.validate_config(&config, &mut diags).await;
            diags
        }
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

fn unsupported(what: &str) -> Diagnostics {
    Diagnostic::error(
        format!("{what} is not supported by the rack provider"),
        "This provider does not offer this feature.",
    )
    .into()
}

/// What a handler gives back, turned into the RPC's answer: a whole response, a response or
/// the diagnostics of why there is none, or diagnostics only (the validate RPCs).
trait IntoAnswer<R> {
    fn into_answer(self) -> RpcResult<R>;
}

impl<R: Answer> IntoAnswer<R> for Result<R, Diagnostics> {
    fn into_answer(self) -> RpcResult<R> {
        flatten(self)
    }
}

impl<R: Answer> IntoAnswer<R> for Diagnostics {
    fn into_answer(self) -> RpcResult<R> {
        answer(self)
    }
}

macro_rules! whole_answers {
    ($($t:ty),* $(,)?) => {
        $(impl IntoAnswer<$t> for $t {
            fn into_answer(self) -> RpcResult<$t> {
                Ok(Response::new(self))
            }
        })*
    };
}

whole_answers!(
    pb::get_metadata::Response,
    pb::get_provider_schema::Response,
    pb::get_resource_identity_schemas::Response,
    pb::get_functions::Response,
    pb::call_function::Response,
    pb::stop_provider::Response,
    BoxStream<pb::list_resource::Event>,
    BoxStream<pb::read_state_bytes::Response>,
    BoxStream<pb::invoke_action::Event>,
);

/// The type (or function) a request names, for the log line of its RPC.
trait Named {
    fn type_name(&self) -> &str {
        ""
    }
}

macro_rules! named {
    ($($field:ident: [$($m:ident),* $(,)?])*) => {
        $($(impl Named for pb::$m::Request {
            fn type_name(&self) -> &str {
                &self.$field
            }
        })*)*
    };
}

named! {
    type_name: [
        validate_resource_config, validate_data_resource_config, upgrade_resource_state,
        upgrade_resource_identity, read_resource, plan_resource_change, apply_resource_change,
        import_resource_state, read_data_source, generate_resource_config,
        validate_ephemeral_resource_config, open_ephemeral_resource, renew_ephemeral_resource,
        close_ephemeral_resource, list_resource, validate_list_resource_config,
    ]
    name: [call_function]
    target_type_name: [move_resource_state]
}

impl Named for pb::get_metadata::Request {}
impl Named for pb::get_provider_schema::Request {}
impl Named for pb::validate_provider_config::Request {}
impl Named for pb::configure_provider::Request {}
impl Named for pb::get_resource_identity_schemas::Request {}
impl Named for pb::get_functions::Request {}
impl Named for pb::stop_provider::Request {}
impl Named for pb::validate_state_store::Request {}
impl Named for pb::configure_state_store::Request {}
impl Named for pb::read_state_bytes::Request {}
impl Named for Streaming<pb::write_state_bytes::RequestChunk> {}
impl Named for pb::lock_state::Request {}
impl Named for pb::unlock_state::Request {}
impl Named for pb::get_states::Request {}
impl Named for pb::delete_state::Request {}
impl Named for pb::plan_action::Request {}
impl Named for pb::invoke_action::Request {}
impl Named for pb::validate_action_config::Request {}

/// The routing table: each RPC of the `Provider` service, the name it is logged under, and
/// the handler that serves it (in the file of its RPC family). Every RPC has the same shape:
/// log the RPC and its type -> the handler decodes, calls the resource and checks the answer
/// against the client's capabilities -> the answer is encoded. Most RPCs take
/// `pb::<m>::Request` and answer `pb::<m>::Response`; the streaming ones give their types in
/// full.
macro_rules! routes {
    (
        unary { $($rpc:ident($m:ident) $log:literal => $serve:ident;)* }
        streams { $(type $stream:ident = $stream_ty:ty;)* }
        streaming { $($srpc:ident($sreq:ty) -> $sresp:ty, $slog:literal => $sserve:ident;)* }
    ) => {
        #[tonic::async_trait]
        impl ProviderRpc for ProviderService {
            $(async fn $rpc(&self, req: Request<pb::$m::Request>) -> RpcResult<pb::$m::Response> {
                let req = req.into_inner();
                let _log = rpc_span($log, req.type_name());
                self.$serve(req).await.into_answer()
            })*
            $(type $stream = $stream_ty;)*
            $(async fn $srpc(&self, req: Request<$sreq>) -> RpcResult<$sresp> {
                let req = req.into_inner();
                let _log = rpc_span($slog, req.type_name());
                self.$sserve(req).await.into_answer()
            })*
        }
    };
}

routes! {
    unary {
        get_metadata(get_metadata) "GetMetadata" => serve_get_metadata;
        get_provider_schema(get_provider_schema) "GetProviderSchema" => serve_get_provider_schema;
        validate_provider_config(validate_provider_config) "ValidateProviderConfig"
            => serve_validate_provider_config;
        configure_provider(configure_provider) "ConfigureProvider" => serve_configure_provider;
        stop_provider(stop_provider) "StopProvider" => serve_stop_provider;
        validate_resource_config(validate_resource_config) "ValidateResourceConfig"
            => serve_validate_resource_config;
        upgrade_resource_state(upgrade_resource_state) "UpgradeResourceState"
            => serve_upgrade_resource_state;
        get_resource_identity_schemas(get_resource_identity_schemas) "GetResourceIdentitySchemas"
            => serve_get_resource_identity_schemas;
        upgrade_resource_identity(upgrade_resource_identity) "UpgradeResourceIdentity"
            => serve_upgrade_resource_identity;
        read_resource(read_resource) "ReadResource" => serve_read_resource;
        plan_resource_change(plan_resource_change) "PlanResourceChange"
            => serve_plan_resource_change;
        apply_resource_change(apply_resource_change) "ApplyResourceChange"
            => serve_apply_resource_change;
        import_resource_state(import_resource_state) "ImportResourceState"
            => serve_import_resource_state;
        move_resource_state(move_resource_state) "MoveResourceState" => serve_move_resource_state;
        generate_resource_config(generate_resource_config) "GenerateResourceConfig"
            => serve_generate_resource_config;
        validate_data_resource_config(validate_data_resource_config) "ValidateDataResourceConfig"
            => serve_validate_data_resource_config;
        read_data_source(read_data_source) "ReadDataSource" => serve_read_data_source;
        validate_ephemeral_resource_config(validate_ephemeral_resource_config)
            "ValidateEphemeralResourceConfig" => serve_validate_ephemeral_resource_config;
        open_ephemeral_resource(open_ephemeral_resource) "OpenEphemeralResource"
            => serve_open_ephemeral_resource;
        renew_ephemeral_resource(renew_ephemeral_resource) "RenewEphemeralResource"
            => serve_renew_ephemeral_resource;
        close_ephemeral_resource(close_ephemeral_resource) "CloseEphemeralResource"
            => serve_close_ephemeral_resource;
        validate_list_resource_config(validate_list_resource_config) "ValidateListResourceConfig"
            => serve_validate_list_resource_config;
        get_functions(get_functions) "GetFunctions" => serve_get_functions;
        call_function(call_function) "CallFunction" => serve_call_function;
        validate_state_store_config(validate_state_store) "ValidateStateStoreConfig"
            => serve_state_storage;
        configure_state_store(configure_state_store) "ConfigureStateStore"
            => serve_state_storage;
        lock_state(lock_state) "LockState" => serve_state_storage;
        unlock_state(unlock_state) "UnlockState" => serve_state_storage;
        get_states(get_states) "GetStates" => serve_state_storage;
        delete_state(delete_state) "DeleteState" => serve_state_storage;
        plan_action(plan_action) "PlanAction" => serve_actions;
        validate_action_config(validate_action_config) "ValidateActionConfig"
            => serve_actions;
    }
    streams {
        type ListResourceStream = BoxStream<pb::list_resource::Event>;
        type ReadStateBytesStream = BoxStream<pb::read_state_bytes::Response>;
        type InvokeActionStream = BoxStream<pb::invoke_action::Event>;
    }
    streaming {
        list_resource(pb::list_resource::Request) -> Self::ListResourceStream, "ListResource"
            => serve_list_resource;
        read_state_bytes(pb::read_state_bytes::Request) -> Self::ReadStateBytesStream,
            "ReadStateBytes" => serve_read_state_bytes;
        write_state_bytes(Streaming<pb::write_state_bytes::RequestChunk>)
            -> pb::write_state_bytes::Response, "WriteStateBytes" => serve_state_storage;
        invoke_action(pb::invoke_action::Request) -> Self::InvokeActionStream, "InvokeAction"
            => serve_invoke_action;
    }
}
