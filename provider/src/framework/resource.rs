//! What a provider declares: resources, data sources, ephemeral resources, list resources
//! and functions, each a schema plus async operations. Nothing here touches protobuf.

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use tokio::sync::mpsc;

use crate::framework::diag::{Diagnostic, Diagnostics};
use crate::framework::plan::PlannedChange;
use crate::framework::schema::{IdentitySchema, Schema};
use crate::protocol::value::{Type, Value};

/// What every operation can reach: the configured provider's data and the stop signal.
#[derive(Clone, Default)]
pub struct Context {
    data: Option<Arc<dyn Any + Send + Sync>>,
    stopped: Arc<AtomicBool>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("configured", &self.data.is_some())
            .field("stopped", &self.is_stopped())
            .finish()
    }
}

impl Context {
    /// A context carrying what `Provider::configure` returned.
    pub fn new(data: Option<Arc<dyn Any + Send + Sync>>, stopped: Arc<AtomicBool>) -> Self {
        Self { data, stopped }
    }

    /// The configured provider's data, as the type the provider stored.
    pub fn provider_data<T: Any + Send + Sync>(&self) -> Result<Arc<T>, Diagnostic> {
        self.data
            .clone()
            .and_then(|d| d.downcast::<T>().ok())
            .ok_or_else(not_configured)
    }

    /// Whether Terraform asked the provider to stop (Ctrl-C).
    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Relaxed)
    }
}

/// Provider-private data stored beside a resource's state, opaque to Terraform.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Private(pub BTreeMap<String, serde_json::Value>);

impl Private {
    /// Decodes what Terraform hands back; empty bytes are an empty map.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        if bytes.is_empty() {
            return Ok(Self::default());
        }
        Ok(Self(serde_json::from_slice(bytes)?))
    }

    /// Encodes for Terraform; an empty map is empty bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        if self.0.is_empty() {
            return Vec::new();
        }
        serde_json::to_vec(&self.0).unwrap_or_default()
    }
}

/// Input of create and update.
#[derive(Debug, Clone)]
pub struct ApplyRequest {
    /// The configuration, including write-only values.
    pub config: Value,
    /// Prior state (null on create).
    pub prior: Value,
    /// Planned new state.
    pub planned: Value,
    /// Private data from the plan.
    pub private: Private,
    /// How long the operation may take.
    pub timeout: Duration,
}

/// Output of create, update and read.
#[derive(Debug, Clone, Default)]
pub struct StateResult {
    /// The new state: what really exists. Null when nothing exists (after a failed create,
    /// or a read that found the object gone).
    pub state: Value,
    /// Private data to keep with the state.
    pub private: Private,
    /// The resource's identity, when it has an identity schema.
    pub identity: Option<Value>,
    /// Problems found. On error, `state` still describes what exists, so the next apply
    /// converges.
    pub diags: Diagnostics,
}

impl StateResult {
    /// The result of an operation written with `?`: what it produced, or, when it failed,
    /// `state` (what Terraform keeps: null after a failed create, the prior state after a
    /// failed update) with its errors.
    pub fn or_failed(result: Result<StateResult, Diagnostics>, state: Value) -> Self {
        result.unwrap_or_else(|diags| Self::failed(state, diags))
    }

    /// A result with only diagnostics and the given state.
    pub fn failed(state: Value, diags: impl Into<Diagnostics>) -> Self {
        Self {
            state,
            diags: diags.into(),
            ..Self::default()
        }
    }
}

/// Input of the resource-level plan hook.
#[derive(Debug, Clone, Copy)]
pub struct PlanRequest<'a> {
    /// Prior state (null on create).
    pub prior: &'a Value,
    /// The configuration.
    pub config: &'a Value,
}

/// Input of read.
#[derive(Debug, Clone)]
pub struct ReadRequest {
    /// Current state.
    pub state: Value,
    /// Private data.
    pub private: Private,
    /// Current identity, if known.
    pub identity: Option<Value>,
}

/// Input of delete.
#[derive(Debug, Clone)]
pub struct DeleteRequest {
    /// Prior state.
    pub prior: Value,
    /// Private data.
    pub private: Private,
    /// How long the operation may take.
    pub timeout: Duration,
}

/// Input of import: an ID string, or an identity object.
#[derive(Debug, Clone)]
pub enum ImportRequest {
    /// `terraform import ADDR ID`, or an import block with `id`.
    Id(String),
    /// An import block with `identity`.
    Identity(Value),
}

/// A resource: one kind of remote object managed through its whole life.
#[async_trait]
pub trait Resource: Send + Sync + 'static {
    /// Resource type name, e.g. `rack_dns_record_set`.
    fn type_name(&self) -> &'static str;
    /// The schema.
    fn schema(&self) -> Schema;
    /// The identity schema, for resources that have an identity.
    fn identity_schema(&self) -> Option<IdentitySchema> {
        None
    }
    /// Extra checks of the whole configuration (attribute validators run before this).
    async fn validate(&self, _config: &Value, _diags: &mut Diagnostics) {}
    /// Resource-level plan hook, after the attribute plan rules; not called for a destroy
    /// (a null plan).
    async fn modify_plan(&self, _ctx: &Context, _req: PlanRequest<'_>, _plan: &mut PlannedChange) {}
    /// Creates the object.
    async fn create(&self, ctx: &Context, req: ApplyRequest) -> StateResult;
    /// Reads the object; a null state means it is gone.
    async fn read(&self, ctx: &Context, req: ReadRequest) -> StateResult;
    /// Updates the object in place.
    async fn update(&self, ctx: &Context, req: ApplyRequest) -> StateResult;
    /// Deletes the object.
    async fn delete(&self, ctx: &Context, req: DeleteRequest) -> Diagnostics;
    /// Turns an import ID or identity into a state that `read` can complete.
    async fn import(&self, _ctx: &Context, _req: ImportRequest) -> StateResult {
        StateResult::failed(
            Value::Null,
            Diagnostic::error(
                format!("{} cannot be imported", self.type_name()),
                "This resource type does not support import.",
            ),
        )
    }
    /// Upgrades stored state JSON from an older schema version to the current one.
    fn upgrade_state(
        &self,
        from_version: i64,
        _raw: serde_json::Value,
    ) -> Result<serde_json::Value, Diagnostic> {
        Err(Diagnostic::error(
            "Cannot upgrade resource state",
            format!(
                "{} has no upgrade from state version {from_version}. \
                 Use the provider version that wrote this state.",
                self.type_name()
            ),
        ))
    }
}

/// A data source: reads something that exists.
#[async_trait]
pub trait DataSource: Send + Sync + 'static {
    /// Data source type name.
    fn type_name(&self) -> &'static str;
    /// The schema.
    fn schema(&self) -> Schema;
    /// Extra checks of the configuration.
    async fn validate(&self, _config: &Value, _diags: &mut Diagnostics) {}
    /// Reads; returns the full object (configuration plus computed attributes).
    async fn read(&self, ctx: &Context, config: Value) -> (Value, Diagnostics);
}

/// The answer of a data source read written with `?`: the object it read, or null and
/// the errors.
pub fn data_answer(read: Result<Value, Diagnostics>) -> (Value, Diagnostics) {
    match read {
        Ok(value) => (value, Diagnostics::new()),
        Err(diags) => (Value::Null, diags),
    }
}

/// What an ephemeral resource returns when opened or renewed.
#[derive(Debug, Clone, Default)]
pub struct EphemeralResult {
    /// The result object (only for open).
    pub result: Value,
    /// Private data passed to renew and close.
    pub private: Private,
    /// When Terraform should call renew.
    pub renew_at: Option<SystemTime>,
    /// Problems found.
    pub diags: Diagnostics,
}

/// An ephemeral resource: a value that exists only during one Terraform run.
#[async_trait]
pub trait EphemeralResource: Send + Sync + 'static {
    /// Type name.
    fn type_name(&self) -> &'static str;
    /// The schema.
    fn schema(&self) -> Schema;
    /// Extra checks of the configuration.
    async fn validate(&self, _config: &Value, _diags: &mut Diagnostics) {}
    /// Opens it.
    async fn open(&self, ctx: &Context, config: Value) -> EphemeralResult;
    /// Renews it.
    async fn renew(&self, _ctx: &Context, private: Private) -> EphemeralResult {
        EphemeralResult {
            private,
            ..EphemeralResult::default()
        }
    }
    /// Closes it.
    async fn close(&self, _ctx: &Context, _private: Private) -> Diagnostics {
        Diagnostics::new()
    }
}

/// One item found by a list resource.
#[derive(Debug, Clone)]
pub struct ListItem {
    /// The identity of the found object (of the resource's identity schema).
    pub identity: Value,
    /// A short human-readable name.
    pub display_name: String,
    /// The full resource object, when the request asked for it.
    pub resource: Option<Value>,
}

/// Where a list resource sends what it finds.
#[derive(Debug, Clone)]
pub struct ListSink(pub mpsc::Sender<Result<ListItem, Diagnostic>>);

impl ListSink {
    /// Sends one item; returns false when Terraform stopped listening.
    pub async fn item(&self, item: ListItem) -> bool {
        self.0.send(Ok(item)).await.is_ok()
    }

    /// Sends a diagnostic.
    pub async fn diagnostic(&self, diag: Diagnostic) -> bool {
        self.0.send(Err(diag)).await.is_ok()
    }

    /// Sends `items` in order until Terraform stops listening; an item that could not be
    /// made ends the listing with its error.
    pub async fn send_all(
        &self,
        items: impl IntoIterator<Item = Result<ListItem, Diagnostic>>,
    ) -> Result<(), Diagnostic> {
        for item in items {
            if !self.item(item?).await {
                break;
            }
        }
        Ok(())
    }

    /// Ends a listing written with `?`: sends its error, if it failed.
    pub async fn finish(&self, listed: Result<(), Diagnostic>) {
        if let Err(diag) = listed {
            self.diagnostic(diag).await;
        }
    }
}

/// Input of a list request.
#[derive(Debug, Clone)]
pub struct ListRequest {
    /// The list block's configuration.
    pub config: Value,
    /// Whether full resource objects are wanted.
    pub include_resource: bool,
    /// At most this many items.
    pub limit: i64,
}

impl ListRequest {
    /// How many items to send at most: `limit`, or every one when it is not positive.
    pub fn max_items(&self) -> usize {
        usize::try_from(self.limit)
            .ok()
            .filter(|n| *n > 0)
            .unwrap_or(usize::MAX)
    }
}

/// A list resource: finds existing objects of a resource type, for `terraform query`.
#[async_trait]
pub trait ListResource: Send + Sync + 'static {
    /// The resource type it lists (same name as the resource).
    fn type_name(&self) -> &'static str;
    /// The schema of the list block's `config`.
    fn schema(&self) -> Schema;
    /// Extra checks of the configuration.
    async fn validate(&self, _config: &Value, _diags: &mut Diagnostics) {}
    /// Lists, sending each item to `sink`.
    async fn list(&self, ctx: &Context, req: ListRequest, sink: ListSink);
}

/// One parameter of a function.
#[derive(Debug, Clone)]
pub struct Parameter {
    /// Name, used in diagnostics and docs.
    pub name: String,
    /// Its type.
    pub ty: Type,
    /// Markdown description.
    pub description: String,
    /// Whether null may be passed.
    pub allow_null: bool,
}

impl Parameter {
    /// A parameter that must not be null.
    pub fn new(name: impl Into<String>, ty: Type, description: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ty,
            description: description.into(),
            allow_null: false,
        }
    }
}

/// The signature and docs of a function.
#[derive(Debug, Clone)]
pub struct FunctionSignature {
    /// Positional parameters.
    pub parameters: Vec<Parameter>,
    /// The variadic parameter, if any.
    pub variadic: Option<Parameter>,
    /// Return type.
    pub returns: Type,
    /// One-line summary.
    pub summary: String,
    /// Markdown description.
    pub description: String,
    /// Deprecation message, if deprecated.
    pub deprecation: Option<String>,
}

/// A function call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text}")]
pub struct FunctionError {
    /// What is wrong, and what to do.
    pub text: String,
    /// Zero-based index of the argument at fault, if one is.
    pub argument: Option<usize>,
}

impl FunctionError {
    /// An error blamed on one argument.
    pub fn argument(index: usize, text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            argument: Some(index),
        }
    }
}

/// A provider function, `provider::rack::NAME(...)`.
#[async_trait]
pub trait Function: Send + Sync + 'static {
    /// Function name.
    fn name(&self) -> &'static str;
    /// Signature and docs.
    fn signature(&self) -> FunctionSignature;
    /// Calls it with known arguments (variadic ones appended).
    async fn call(&self, args: Vec<Value>) -> Result<Value, FunctionError>;
}

/// What `Provider::configure` hands to every later operation.
pub type ProviderData = Arc<dyn Any + Send + Sync>;

/// A provider: its configuration block and everything it offers.
#[async_trait]
pub trait Provider: Send + Sync + 'static {
    /// The provider block's schema.
    fn schema(&self) -> Schema;
    /// Extra checks of the provider configuration.
    async fn validate(&self, _config: &Value, _diags: &mut Diagnostics) {}
    /// Applies the configuration (environment fallbacks already applied).
    async fn configure(&self, config: Value, diags: &mut Diagnostics) -> Option<ProviderData>;
    /// Resources.
    fn resources(&self) -> Vec<Arc<dyn Resource>> {
        Vec::new()
    }
    /// Data sources.
    fn data_sources(&self) -> Vec<Arc<dyn DataSource>> {
        Vec::new()
    }
    /// Ephemeral resources.
    fn ephemeral_resources(&self) -> Vec<Arc<dyn EphemeralResource>> {
        Vec::new()
    }
    /// List resources.
    fn list_resources(&self) -> Vec<Arc<dyn ListResource>> {
        Vec::new()
    }
    /// Functions.
    fn functions(&self) -> Vec<Arc<dyn Function>> {
        Vec::new()
    }
}

/// The error of an operation that needs the provider's configuration before `configure`
/// has stored it (or after it failed).
pub fn not_configured() -> Diagnostic {
    Diagnostic::error(
        "Provider is not configured",
        "The provider's configuration was not applied before this operation. \
         Check the provider block for errors reported earlier.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_round_trips_and_empty_is_empty() {
        assert_eq!(Private::default().to_bytes(), Vec::<u8>::new());
        assert_eq!(Private::from_bytes(b"").ok(), Some(Private::default()));
        let mut p = Private::default();
        p.0.insert("serial".into(), serde_json::json!(7));
        let back = Private::from_bytes(&p.to_bytes()).ok();
        assert_eq!(back, Some(p));
    }

    #[test]
    fn context_without_configuration_says_so() {
        let ctx = Context::default();
        let err = ctx.provider_data::<String>().err();
        assert_eq!(
            err.map(|d| d.summary),
            Some("Provider is not configured".to_string())
        );
    }
}
