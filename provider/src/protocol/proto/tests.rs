//! Pins the wire facts that Terraform and go-plugin depend on: field numbers of the
//! fields most likely to be got wrong, and the method paths each generated server routes.

use std::convert::Infallible;

use prost::Message;
use tonic::codegen::{Service, http};
use tonic::{Code, Request, Response, Status, Streaming};

use super::grpc_health_v1::{
    self as health, HealthCheckRequest, HealthCheckResponse, HealthListRequest, HealthListResponse,
    health_server,
};
use super::plugin::{self, grpc_broker_server, grpc_controller_server, grpc_stdio_server};
use super::tfplugin6::{self as tf, provider_server::Provider, provider_server::ProviderServer};

fn wire<M: Message>(message: &M) -> Vec<u8> {
    message.encode_to_vec()
}

// --- field numbers -----------------------------------------------------------------

#[test]
fn attribute_write_only_nested_type_and_deprecation_message_numbers() {
    let write_only = tf::schema::Attribute {
        write_only: true,
        ..Default::default()
    };
    // field 11, varint: (11 << 3) | 0
    assert_eq!(wire(&write_only), [0x58, 0x01]);

    let nested = tf::schema::Attribute {
        nested_type: Some(tf::schema::Object::default()),
        ..Default::default()
    };
    // field 10, length-delimited, empty
    assert_eq!(wire(&nested), [0x52, 0x00]);

    let deprecated = tf::schema::Attribute {
        deprecation_message: "x".into(),
        ..Default::default()
    };
    assert_eq!(wire(&deprecated), [0x62, 0x01, b'x']);

    let decoded = tf::schema::Attribute::decode(&[0x58, 0x01][..]).map(|a| a.write_only);
    assert_eq!(decoded, Ok(true));
}

#[test]
fn get_provider_schema_response_numbers() {
    let caps = tf::get_provider_schema::Response {
        server_capabilities: Some(tf::ServerCapabilities {
            plan_destroy: true,
            ..Default::default()
        }),
        ..Default::default()
    };
    assert_eq!(wire(&caps), [0x32, 0x02, 0x08, 0x01]);

    // Each map entry is field `n` wrapping {key = 1: "a", value = 2: the value}.
    fn entry<V: Message>(tag: u8, value: &V) -> Vec<u8> {
        let value = wire(value);
        let mut out = vec![tag, 0, 0x0a, 0x01, b'a', 0x12, value.len() as u8];
        out.extend(value);
        out[1] = (out.len() - 2) as u8;
        out
    }
    let schema = tf::Schema {
        version: 1,
        ..Default::default()
    };
    let function = tf::Function {
        summary: "s".into(),
        ..Default::default()
    };
    let action = tf::ActionSchema {
        schema: Some(tf::Schema::default()),
    };
    let one = |v: &tf::Schema| [("a".to_string(), v.clone())].into_iter().collect();

    let m = tf::get_provider_schema::Response {
        resource_schemas: one(&schema),
        ..Default::default()
    };
    assert_eq!(wire(&m), entry(0x12, &schema)); // 2
    let m = tf::get_provider_schema::Response {
        data_source_schemas: one(&schema),
        ..Default::default()
    };
    assert_eq!(wire(&m), entry(0x1a, &schema)); // 3
    let m = tf::get_provider_schema::Response {
        functions: [("a".to_string(), function.clone())].into_iter().collect(),
        ..Default::default()
    };
    assert_eq!(wire(&m), entry(0x3a, &function)); // 7
    let m = tf::get_provider_schema::Response {
        ephemeral_resource_schemas: one(&schema),
        ..Default::default()
    };
    assert_eq!(wire(&m), entry(0x42, &schema)); // 8
    let m = tf::get_provider_schema::Response {
        list_resource_schemas: one(&schema),
        ..Default::default()
    };
    assert_eq!(wire(&m), entry(0x4a, &schema)); // 9
    let m = tf::get_provider_schema::Response {
        state_store_schemas: one(&schema),
        ..Default::default()
    };
    assert_eq!(wire(&m), entry(0x52, &schema)); // 10
    let m = tf::get_provider_schema::Response {
        action_schemas: [("a".to_string(), action.clone())].into_iter().collect(),
        ..Default::default()
    };
    assert_eq!(wire(&m), entry(0x5a, &action)); // 11
}

#[test]
fn capabilities_numbers() {
    let server = tf::ServerCapabilities {
        plan_destroy: true,
        get_provider_schema_optional: true,
        move_resource_state: true,
        generate_resource_config: true,
    };
    assert_eq!(wire(&server), [0x08, 1, 0x10, 1, 0x18, 1, 0x20, 1]);

    let client = tf::ClientCapabilities::decode(&[0x08, 0x01, 0x10, 0x01][..])
        .map(|c| (c.deferral_allowed, c.write_only_attributes_allowed));
    assert_eq!(client, Ok((true, true)));
}

#[test]
fn plan_resource_change_identity_and_deferral_numbers() {
    let request = tf::plan_resource_change::Request {
        client_capabilities: Some(tf::ClientCapabilities::default()),
        prior_identity: Some(tf::ResourceIdentityData::default()),
        ..Default::default()
    };
    assert_eq!(wire(&request), [0x3a, 0x00, 0x42, 0x00]); // 7, 8

    let response = tf::plan_resource_change::Response {
        deferred: Some(tf::Deferred {
            reason: tf::deferred::Reason::AbsentPrereq as i32,
        }),
        planned_identity: Some(tf::ResourceIdentityData::default()),
        ..Default::default()
    };
    assert_eq!(wire(&response), [0x32, 0x02, 0x08, 0x03, 0x3a, 0x00]); // 6, 7
}

#[test]
fn numbers_that_break_the_pattern() {
    // ValidateProviderConfig.Response.diagnostics is field 2, not 1.
    let m = tf::validate_provider_config::Response {
        diagnostics: vec![tf::Diagnostic::default()],
    };
    assert_eq!(wire(&m), [0x12, 0x00]);

    // Schema.Object has no field 2: nesting is 3.
    let m = tf::schema::Object {
        nesting: tf::schema::object::NestingMode::List as i32,
        ..Default::default()
    };
    assert_eq!(wire(&m), [0x18, 0x02]);

    // StopProvider.Response's only field is `Error`, number 1.
    let m = tf::stop_provider::Response { error: "e".into() };
    assert_eq!(wire(&m), [0x0a, 0x01, b'e']);
}

#[test]
fn proto3_optional_fields_keep_presence() {
    // An explicit zero is still sent, so "argument 0" differs from "no argument".
    let m = tf::FunctionError {
        text: String::new(),
        function_argument: Some(0),
    };
    assert_eq!(wire(&m), [0x10, 0x00]);

    let m = tf::renew_ephemeral_resource::Request {
        private: Some(Vec::new()),
        ..Default::default()
    };
    assert_eq!(wire(&m), [0x12, 0x00]);

    let m = tf::open_ephemeral_resource::Response {
        renew_at: Some(prost_types::Timestamp::default()),
        ..Default::default()
    };
    assert_eq!(wire(&m), [0x12, 0x00]);
}

#[test]
fn go_plugin_and_health_numbers() {
    let m = plugin::StdioData {
        channel: plugin::stdio_data::Channel::Stderr as i32,
        data: b"x".to_vec(),
    };
    assert_eq!(wire(&m), [0x08, 0x02, 0x12, 0x01, b'x']);

    let m = plugin::ConnInfo {
        knock: Some(plugin::conn_info::Knock {
            ack: true,
            ..Default::default()
        }),
        ..Default::default()
    };
    assert_eq!(wire(&m), [0x22, 0x02, 0x10, 0x01]);

    let m = HealthCheckResponse {
        status: health::health_check_response::ServingStatus::Serving as i32,
    };
    assert_eq!(wire(&m), [0x08, 0x01]);
}

// --- method paths ------------------------------------------------------------------

/// Every handler of the stubs answers with this code and its own method name, so a
/// test can tell which handler a path reached.
const REACHED: Code = Code::FailedPrecondition;

fn reached(method: &str) -> Status {
    Status::new(REACHED, method)
}

/// Sends one request with an empty message to `path` and returns the gRPC status code
/// and message of the answer.
async fn route<S>(mut server: S, path: &str) -> (i32, String)
where
    S: Service<
            http::Request<tonic::body::Body>,
            Response = http::Response<tonic::body::Body>,
            Error = Infallible,
        >,
{
    // One gRPC frame: not compressed, length 0.
    let body = tonic::body::Body::new(String::from("\0\0\0\0\0"));
    let request = http::Request::builder()
        .method("POST")
        .uri(format!("http://localhost{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(body);
    let request = match request {
        Ok(r) => r,
        Err(e) => panic!("building request for {path}: {e}"),
    };
    let response = match server.call(request).await {
        Ok(r) => r,
        Err(never) => match never {},
    };
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    (
        header("grpc-status").parse().unwrap_or(-1),
        header("grpc-message"),
    )
}

struct Stub;

type Stream<T> = tokio_stream::Empty<Result<T, Status>>;

macro_rules! stub_provider {
    ($($method:ident($module:ident::$req:ident) -> $resp:ident;)*) => {
        #[tonic::async_trait]
        impl Provider for Stub {
            $(
                async fn $method(
                    &self,
                    _: Request<tf::$module::$req>,
                ) -> Result<Response<tf::$module::$resp>, Status> {
                    Err(reached(stringify!($method)))
                }
            )*

            type ListResourceStream = Stream<tf::list_resource::Event>;
            async fn list_resource(
                &self,
                _: Request<tf::list_resource::Request>,
            ) -> Result<Response<Self::ListResourceStream>, Status> {
                Err(reached("list_resource"))
            }

            type ReadStateBytesStream = Stream<tf::read_state_bytes::Response>;
            async fn read_state_bytes(
                &self,
                _: Request<tf::read_state_bytes::Request>,
            ) -> Result<Response<Self::ReadStateBytesStream>, Status> {
                Err(reached("read_state_bytes"))
            }

            async fn write_state_bytes(
                &self,
                _: Request<Streaming<tf::write_state_bytes::RequestChunk>>,
            ) -> Result<Response<tf::write_state_bytes::Response>, Status> {
                Err(reached("write_state_bytes"))
            }

            type InvokeActionStream = Stream<tf::invoke_action::Event>;
            async fn invoke_action(
                &self,
                _: Request<tf::invoke_action::Request>,
            ) -> Result<Response<Self::InvokeActionStream>, Status> {
                Err(reached("invoke_action"))
            }
        }
    };
}

stub_provider! {
    get_metadata(get_metadata::Request) -> Response;
    get_provider_schema(get_provider_schema::Request) -> Response;
    validate_provider_config(validate_provider_config::Request) -> Response;
    validate_resource_config(validate_resource_config::Request) -> Response;
    validate_data_resource_config(validate_data_resource_config::Request) -> Response;
    upgrade_resource_state(upgrade_resource_state::Request) -> Response;
    get_resource_identity_schemas(get_resource_identity_schemas::Request) -> Response;
    upgrade_resource_identity(upgrade_resource_identity::Request) -> Response;
    configure_provider(configure_provider::Request) -> Response;
    read_resource(read_resource::Request) -> Response;
    plan_resource_change(plan_resource_change::Request) -> Response;
    apply_resource_change(apply_resource_change::Request) -> Response;
    import_resource_state(import_resource_state::Request) -> Response;
    move_resource_state(move_resource_state::Request) -> Response;
    read_data_source(read_data_source::Request) -> Response;
    generate_resource_config(generate_resource_config::Request) -> Response;
    validate_ephemeral_resource_config(validate_ephemeral_resource_config::Request) -> Response;
    open_ephemeral_resource(open_ephemeral_resource::Request) -> Response;
    renew_ephemeral_resource(renew_ephemeral_resource::Request) -> Response;
    close_ephemeral_resource(close_ephemeral_resource::Request) -> Response;
    validate_list_resource_config(validate_list_resource_config::Request) -> Response;
    get_functions(get_functions::Request) -> Response;
    call_function(call_function::Request) -> Response;
    validate_state_store_config(validate_state_store::Request) -> Response;
    configure_state_store(configure_state_store::Request) -> Response;
    lock_state(lock_state::Request) -> Response;
    unlock_state(unlock_state::Request) -> Response;
    get_states(get_states::Request) -> Response;
    delete_state(delete_state::Request) -> Response;
    plan_action(plan_action::Request) -> Response;
    validate_action_config(validate_action_config::Request) -> Response;
    stop_provider(stop_provider::Request) -> Response;
}

/// Every RPC of protocol 6.10, as Terraform calls it, and the handler it must reach.
const PROVIDER_ROUTES: &[(&str, &str)] = &[
    ("GetMetadata", "get_metadata"),
    ("GetProviderSchema", "get_provider_schema"),
    ("ValidateProviderConfig", "validate_provider_config"),
    ("ValidateResourceConfig", "validate_resource_config"),
    (
        "ValidateDataResourceConfig",
        "validate_data_resource_config",
    ),
    ("UpgradeResourceState", "upgrade_resource_state"),
    (
        "GetResourceIdentitySchemas",
        "get_resource_identity_schemas",
    ),
    ("UpgradeResourceIdentity", "upgrade_resource_identity"),
    ("ConfigureProvider", "configure_provider"),
    ("ReadResource", "read_resource"),
    ("PlanResourceChange", "plan_resource_change"),
    ("ApplyResourceChange", "apply_resource_change"),
    ("ImportResourceState", "import_resource_state"),
    ("MoveResourceState", "move_resource_state"),
    ("ReadDataSource", "read_data_source"),
    ("GenerateResourceConfig", "generate_resource_config"),
    (
        "ValidateEphemeralResourceConfig",
        "validate_ephemeral_resource_config",
    ),
    ("OpenEphemeralResource", "open_ephemeral_resource"),
    ("RenewEphemeralResource", "renew_ephemeral_resource"),
    ("CloseEphemeralResource", "close_ephemeral_resource"),
    ("ListResource", "list_resource"),
    (
        "ValidateListResourceConfig",
        "validate_list_resource_config",
    ),
    ("GetFunctions", "get_functions"),
    ("CallFunction", "call_function"),
    ("ValidateStateStoreConfig", "validate_state_store_config"),
    ("ConfigureStateStore", "configure_state_store"),
    ("ReadStateBytes", "read_state_bytes"),
    ("WriteStateBytes", "write_state_bytes"),
    ("LockState", "lock_state"),
    ("UnlockState", "unlock_state"),
    ("GetStates", "get_states"),
    ("DeleteState", "delete_state"),
    ("PlanAction", "plan_action"),
    ("InvokeAction", "invoke_action"),
    ("ValidateActionConfig", "validate_action_config"),
    ("StopProvider", "stop_provider"),
];

#[tokio::test]
async fn provider_server_routes_every_rpc() {
    use tonic::server::NamedService;
    assert_eq!(ProviderServer::<Stub>::NAME, "tfplugin6.Provider");
    for (rpc, handler) in PROVIDER_ROUTES {
        let path = format!("/tfplugin6.Provider/{rpc}");
        let got = route(ProviderServer::new(Stub), &path).await;
        assert_eq!(got, (REACHED as i32, handler.to_string()), "{path}");
    }
    let got = route(ProviderServer::new(Stub), "/tfplugin6.Provider/Nope").await;
    assert_eq!(got.0, Code::Unimplemented as i32);
}

#[tonic::async_trait]
impl grpc_controller_server::GrpcController for Stub {
    async fn shutdown(&self, _: Request<plugin::Empty>) -> Result<Response<plugin::Empty>, Status> {
        Err(reached("shutdown"))
    }
}

#[tonic::async_trait]
impl grpc_stdio_server::GrpcStdio for Stub {
    type StreamStdioStream = Stream<plugin::StdioData>;
    // google.protobuf.Empty maps to `()`.
    async fn stream_stdio(
        &self,
        _: Request<()>,
    ) -> Result<Response<Self::StreamStdioStream>, Status> {
        Err(reached("stream_stdio"))
    }
}

#[tonic::async_trait]
impl grpc_broker_server::GrpcBroker for Stub {
    type StartStreamStream = Stream<plugin::ConnInfo>;
    async fn start_stream(
        &self,
        _: Request<Streaming<plugin::ConnInfo>>,
    ) -> Result<Response<Self::StartStreamStream>, Status> {
        Err(reached("start_stream"))
    }
}

#[tonic::async_trait]
impl health_server::Health for Stub {
    async fn check(
        &self,
        _: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        Err(reached("check"))
    }
    async fn list(
        &self,
        _: Request<HealthListRequest>,
    ) -> Result<Response<HealthListResponse>, Status> {
        Err(reached("list"))
    }
    type WatchStream = Stream<HealthCheckResponse>;
    async fn watch(
        &self,
        _: Request<HealthCheckRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        Err(reached("watch"))
    }
}

#[tokio::test]
async fn go_plugin_and_health_servers_route_their_paths() {
    use grpc_broker_server::GrpcBrokerServer;
    use grpc_controller_server::GrpcControllerServer;
    use grpc_stdio_server::GrpcStdioServer;
    use health_server::HealthServer;
    use tonic::server::NamedService;

    assert_eq!(GrpcControllerServer::<Stub>::NAME, "plugin.GRPCController");
    assert_eq!(GrpcStdioServer::<Stub>::NAME, "plugin.GRPCStdio");
    assert_eq!(GrpcBrokerServer::<Stub>::NAME, "plugin.GRPCBroker");
    assert_eq!(HealthServer::<Stub>::NAME, "grpc.health.v1.Health");

    let reached_by = |h: &str| (REACHED as i32, h.to_string());
    let got = route(
        GrpcControllerServer::new(Stub),
        "/plugin.GRPCController/Shutdown",
    )
    .await;
    assert_eq!(got, reached_by("shutdown"));
    let got = route(GrpcStdioServer::new(Stub), "/plugin.GRPCStdio/StreamStdio").await;
    assert_eq!(got, reached_by("stream_stdio"));
    let got = route(
        GrpcBrokerServer::new(Stub),
        "/plugin.GRPCBroker/StartStream",
    )
    .await;
    assert_eq!(got, reached_by("start_stream"));
    for (rpc, handler) in [("Check", "check"), ("List", "list"), ("Watch", "watch")] {
        let path = format!("/grpc.health.v1.Health/{rpc}");
        assert_eq!(
            route(HealthServer::new(Stub), &path).await,
            reached_by(handler)
        );
    }
}
