//! In-process tests of the RPC server: a test provider with an in-memory resource, driven
//! through the generated service trait exactly as Terraform would call it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tonic::Request;

use crate::framework::schema::{Attribute, Block, IdentityAttribute, IdentitySchema, Schema};
use crate::framework::server::ProviderService;
use crate::framework::{
    ApplyRequest, Context, DeleteRequest, Diagnostic, Diagnostics, Function, ImportRequest,
    Provider, ProviderData, ReadRequest, Resource, StateResult,
};
use crate::protocol::msgpack;
use crate::protocol::proto::tfplugin6 as pb;
use crate::protocol::proto::tfplugin6::provider_server::Provider as _;
use crate::protocol::value::{Type, Value};

#[derive(Default)]
struct Store(Mutex<BTreeMap<String, String>>);

struct Thing(Arc<Store>);

fn s(v: &str) -> Value {
    Value::String(v.into())
}

fn obj(pairs: &[(&str, Value)]) -> Value {
    Value::object(pairs.iter().cloned())
}

#[async_trait]
impl Resource for Thing {
    fn type_name(&self) -> &'static str {
        "rack_test_thing"
    }
    fn schema(&self) -> Schema {
        Schema::new(Block::new("A thing.").attributes([
            Attribute::string("name").required().requires_replace(),
            Attribute::string("value").optional(),
            Attribute::string("id").computed().use_state_for_unknown(),
            Attribute::string("token").optional().write_only(),
        ]))
    }
    fn identity_schema(&self) -> Option<IdentitySchema> {
        Some(IdentitySchema {
            version: 0,
            attributes: vec![IdentityAttribute::required_string("name", "Name.")],
        })
    }
    async fn create(&self, _ctx: &Context, req: ApplyRequest) -> StateResult {
        let name = req
            .planned
            .attr("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let value = req
            .planned
            .attr("value")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        assert_eq!(
            req.config.attr("token").and_then(Value::as_str),
            Some("secret")
        );
        self.0.0.lock().unwrap().insert(name.clone(), value);
        let mut state = req.planned.clone();
        if let Value::Object(m) = &mut state {
            m.insert("id".into(), s(&format!("id-{name}")));
        }
        StateResult {
            identity: Some(obj(&[("name", s(&name))])),
            state,
            ..StateResult::default()
        }
    }
    async fn read(&self, _ctx: &Context, req: ReadRequest) -> StateResult {
        let name = req
            .state
            .attr("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let found = self.0.0.lock().unwrap().get(&name).cloned();
        let state = match found {
            None => Value::Null,
            Some(v) => obj(&[
                ("name", s(&name)),
                ("value", if v.is_empty() { Value::Null } else { s(&v) }),
                ("id", s(&format!("id-{name}"))),
                ("token", Value::Null),
            ]),
        };
        StateResult {
            state,
            ..StateResult::default()
        }
    }
    async fn update(&self, ctx: &Context, req: ApplyRequest) -> StateResult {
        self.create(ctx, req).await
    }
    async fn delete(&self, _ctx: &Context, req: DeleteRequest) -> Diagnostics {
        let name = req
            .prior
            .attr("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        self.0.0.lock().unwrap().remove(&name);
        Diagnostics::new()
    }
    async fn import(&self, _ctx: &Context, req: ImportRequest) -> StateResult {
        let name = match req {
            ImportRequest::Id(id) => id,
            ImportRequest::Identity(v) => v
                .attr("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        };
        if !self.0.0.lock().unwrap().contains_key(&name) {
            return StateResult::failed(Value::Null, Diagnostic::error("No such thing", name));
        }
        StateResult {
            state: obj(&[
                ("name", s(&name)),
                ("value", Value::Null),
                ("id", Value::Null),
                ("token", Value::Null),
            ]),
            identity: Some(obj(&[("name", s(&name))])),
            ..StateResult::default()
        }
    }
}

struct TestProvider(Arc<Store>);

#[async_trait]
impl Provider for TestProvider {
    fn schema(&self) -> Schema {
        Schema::new(
            Block::new("Test.").attributes([Attribute::string("endpoint")
                .optional()
                .env("RACK_TEST_ENDPOINT_THAT_IS_NEVER_SET")]),
        )
    }
    async fn configure(&self, _config: Value, _diags: &mut Diagnostics) -> Option<ProviderData> {
        Some(Arc::new(()))
    }
    fn resources(&self) -> Vec<Arc<dyn Resource>> {
        vec![Arc::new(Thing(self.0.clone()))]
    }
    fn functions(&self) -> Vec<Arc<dyn Function>> {
        crate::functions::all()
    }
}

fn service() -> (ProviderService, Arc<Store>) {
    let store = Arc::new(Store::default());
    (
        ProviderService::new(Arc::new(TestProvider(store.clone()))),
        store,
    )
}

fn ty() -> Type {
    Thing(Arc::default()).schema().value_type()
}

fn dv(v: &Value, t: &Type) -> Option<pb::DynamicValue> {
    Some(pb::DynamicValue {
        msgpack: msgpack::encode(v, t).unwrap(),
        json: Vec::new(),
    })
}

fn un(d: Option<pb::DynamicValue>, t: &Type) -> Value {
    msgpack::decode(&d.unwrap().msgpack, t).unwrap()
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn schema_lists_functions_and_resources() {
    let (svc, _) = service();
    let r = rt()
        .block_on(svc.get_provider_schema(Request::new(pb::get_provider_schema::Request {})))
        .unwrap()
        .into_inner();
    let mut names: Vec<_> = r.functions.keys().cloned().collect();
    names.sort();
    assert_eq!(
        names,
        [
            "apt_pin",
            "apt_sources",
            "cumulus_ztp_option",
            "mac_address",
            "onie_installer_option",
            "ptr_name",
            "reverse_zone",
            "sonic_ztp_option"
        ]
    );
    assert!(r.functions["mac_address"].variadic_parameter.is_some());
    assert!(!r.functions["ptr_name"].description.is_empty());
    assert!(r.resource_schemas.contains_key("rack_test_thing"));
    assert!(r.server_capabilities.unwrap().get_provider_schema_optional);
}

#[test]
fn call_function_ok_and_error_names_argument() {
    let (svc, _) = service();
    let rt = rt();
    let call = |name: &str, args: &[&str]| {
        rt.block_on(
            svc.call_function(Request::new(pb::call_function::Request {
                name: name.into(),
                arguments: args
                    .iter()
                    .map(|a| dv(&s(a), &Type::String).unwrap())
                    .collect(),
            })),
        )
        .unwrap()
        .into_inner()
    };
    let ok = call("ptr_name", &["10.10.60.2"]);
    assert_eq!(un(ok.result, &Type::String), s("2.60.10.10.in-addr.arpa."));
    let bad = call("reverse_zone", &["10.10.0.0/33"]);
    let err = bad.error.unwrap();
    assert_eq!(err.function_argument, Some(0));
    assert!(err.text.contains("out of range"), "{}", err.text);
}

#[test]
fn resource_lifecycle_through_rpcs() {
    let (svc, store) = service();
    let rt = rt();
    let t = ty();
    let config = obj(&[
        ("name", s("a")),
        ("value", s("1")),
        ("id", Value::Null),
        ("token", s("secret")),
    ]);

    // Validate: write-only needs the client capability.
    let v = rt
        .block_on(svc.validate_resource_config(Request::new(
            pb::validate_resource_config::Request {
                type_name: "rack_test_thing".into(),
                config: dv(&config, &t),
                client_capabilities: None,
            },
        )))
        .unwrap()
        .into_inner();
    assert_eq!(v.diagnostics.len(), 1);
    assert_eq!(v.diagnostics[0].attribute.as_ref().unwrap().steps.len(), 1);
    let v = rt
        .block_on(svc.validate_resource_config(Request::new(
            pb::validate_resource_config::Request {
                type_name: "rack_test_thing".into(),
                config: dv(&config, &t),
                client_capabilities: Some(pb::ClientCapabilities {
                    deferral_allowed: false,
                    write_only_attributes_allowed: true,
                }),
            },
        )))
        .unwrap()
        .into_inner();
    assert!(v.diagnostics.is_empty(), "{:?}", v.diagnostics);

    // Plan create: computed id unknown, write-only nulled.
    let p = rt
        .block_on(
            svc.plan_resource_change(Request::new(pb::plan_resource_change::Request {
                type_name: "rack_test_thing".into(),
                prior_state: dv(&Value::Null, &t),
                proposed_new_state: dv(&config, &t),
                config: dv(&config, &t),
                ..Default::default()
            })),
        )
        .unwrap()
        .into_inner();
    assert!(p.diagnostics.is_empty(), "{:?}", p.diagnostics);
    let planned = un(p.planned_state, &t);
    assert_eq!(planned.attr("id"), Some(&Value::Unknown));
    assert_eq!(planned.attr("token"), Some(&Value::Null));

    // Apply create.
    let a = rt
        .block_on(
            svc.apply_resource_change(Request::new(pb::apply_resource_change::Request {
                type_name: "rack_test_thing".into(),
                prior_state: dv(&Value::Null, &t),
                planned_state: dv(&planned, &t),
                config: dv(&config, &t),
                ..Default::default()
            })),
        )
        .unwrap()
        .into_inner();
    assert!(a.diagnostics.is_empty(), "{:?}", a.diagnostics);
    let state = un(a.new_state, &t);
    assert_eq!(state.attr("id"), Some(&s("id-a")));
    assert_eq!(state.attr("token"), Some(&Value::Null));
    assert!(a.new_identity.is_some());
    assert_eq!(
        store.0.lock().unwrap().get("a").cloned(),
        Some("1".to_string())
    );

    // Plan a change of a requires-replace attribute.
    let renamed = obj(&[
        ("name", s("b")),
        ("value", s("1")),
        ("id", s("id-a")),
        ("token", Value::Null),
    ]);
    let p = rt
        .block_on(
            svc.plan_resource_change(Request::new(pb::plan_resource_change::Request {
                type_name: "rack_test_thing".into(),
                prior_state: dv(&state, &t),
                proposed_new_state: dv(&renamed, &t),
                config: dv(
                    &obj(&[
                        ("name", s("b")),
                        ("value", s("1")),
                        ("id", Value::Null),
                        ("token", Value::Null),
                    ]),
                    &t,
                ),
                ..Default::default()
            })),
        )
        .unwrap()
        .into_inner();
    assert_eq!(p.requires_replace.len(), 1);

    // Out-of-band delete: read returns null state.
    store.0.lock().unwrap().clear();
    let r = rt
        .block_on(svc.read_resource(Request::new(pb::read_resource::Request {
            type_name: "rack_test_thing".into(),
            current_state: dv(&state, &t),
            ..Default::default()
        })))
        .unwrap()
        .into_inner();
    assert!(un(r.new_state, &t).is_null());

    // Import of something missing fails with a diagnostic; of something present succeeds.
    let i = rt
        .block_on(
            svc.import_resource_state(Request::new(pb::import_resource_state::Request {
                type_name: "rack_test_thing".into(),
                id: "zzz".into(),
                ..Default::default()
            })),
        )
        .unwrap()
        .into_inner();
    assert!(i.imported_resources.is_empty());
    assert_eq!(i.diagnostics.len(), 1);
    store.0.lock().unwrap().insert("c".into(), "3".into());
    let i = rt
        .block_on(
            svc.import_resource_state(Request::new(pb::import_resource_state::Request {
                type_name: "rack_test_thing".into(),
                id: "c".into(),
                ..Default::default()
            })),
        )
        .unwrap()
        .into_inner();
    assert_eq!(i.imported_resources.len(), 1);
    assert!(i.imported_resources[0].identity.is_some());
}

#[test]
fn upgrade_state_prunes_removed_attributes() {
    let (svc, _) = service();
    let t = ty();
    let r = rt()
        .block_on(
            svc.upgrade_resource_state(Request::new(pb::upgrade_resource_state::Request {
                type_name: "rack_test_thing".into(),
                version: 0,
                raw_state: Some(pb::RawState {
                    json:
                        br#"{"name":"a","value":null,"id":"x","token":null,"removed_long_ago":1}"#
                            .to_vec(),
                    flatmap: Default::default(),
                }),
            })),
        )
        .unwrap()
        .into_inner();
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    assert_eq!(un(r.upgraded_state, &t).attr("id"), Some(&s("x")));
}

#[test]
fn unknown_resource_type_is_a_diagnostic() {
    let (svc, _) = service();
    let r = rt()
        .block_on(svc.read_resource(Request::new(pb::read_resource::Request {
            type_name: "rack_nope".into(),
            ..Default::default()
        })))
        .unwrap()
        .into_inner();
    assert_eq!(r.diagnostics.len(), 1);
    assert!(r.diagnostics[0].summary.contains("rack_nope"));
}

// ---- ephemeral resources, list resources, identity import, upgrades, timeouts ----

use std::time::{Duration, SystemTime};

use futures::StreamExt as _;

use crate::framework::resource::{
    EphemeralResource, EphemeralResult, ListItem, ListRequest, ListResource, ListSink, Private,
};
use crate::framework::timeouts::timeouts_attribute;

struct Token;

#[async_trait]
impl EphemeralResource for Token {
    fn type_name(&self) -> &'static str {
        "rack_test_token"
    }
    fn schema(&self) -> Schema {
        Schema::new(Block::new("A token.").attributes([
            Attribute::string("scope").required(),
            Attribute::string("value").computed().sensitive(),
        ]))
    }
    async fn open(&self, _ctx: &Context, config: Value) -> EphemeralResult {
        let scope = config
            .attr("scope")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let mut private = Private::default();
        private.0.insert("scope".into(), serde_json::json!(scope));
        EphemeralResult {
            result: obj(&[("scope", s(&scope)), ("value", s("t0ken"))]),
            private,
            renew_at: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000_000)),
            diags: Diagnostics::new(),
        }
    }
}

struct ThingList(Arc<Store>);

#[async_trait]
impl ListResource for ThingList {
    fn type_name(&self) -> &'static str {
        "rack_test_thing"
    }
    fn schema(&self) -> Schema {
        Schema::new(Block::new("Filter.").attributes([Attribute::string("prefix").optional()]))
    }
    async fn list(&self, _ctx: &Context, req: ListRequest, sink: ListSink) {
        let prefix = req
            .config
            .attr("prefix")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let items: Vec<(String, String)> = self.0.0.lock().unwrap().clone().into_iter().collect();
        for (name, value) in items.into_iter().filter(|(n, _)| n.starts_with(&prefix)) {
            let resource = req.include_resource.then(|| {
                obj(&[
                    ("name", s(&name)),
                    ("value", s(&value)),
                    ("id", s(&format!("id-{name}"))),
                    ("token", Value::Null),
                ])
            });
            let item = ListItem {
                identity: obj(&[("name", s(&name))]),
                display_name: name.clone(),
                resource,
            };
            if !sink.item(item).await {
                return;
            }
        }
    }
}

struct Slow;

#[async_trait]
impl Resource for Slow {
    fn type_name(&self) -> &'static str {
        "rack_test_slow"
    }
    fn schema(&self) -> Schema {
        Schema::new(Block::new("Slow.").attributes([
            Attribute::string("name").required(),
            timeouts_attribute(&["create"]),
        ]))
        .version(1)
    }
    async fn create(&self, _ctx: &Context, req: ApplyRequest) -> StateResult {
        tokio::time::sleep(Duration::from_secs(5)).await;
        StateResult {
            state: req.planned,
            ..StateResult::default()
        }
    }
    async fn read(&self, _ctx: &Context, req: ReadRequest) -> StateResult {
        StateResult {
            state: req.state,
            ..StateResult::default()
        }
    }
    async fn update(&self, ctx: &Context, req: ApplyRequest) -> StateResult {
        self.create(ctx, req).await
    }
    async fn delete(&self, _ctx: &Context, _req: DeleteRequest) -> Diagnostics {
        Diagnostics::new()
    }
    fn upgrade_state(
        &self,
        from: i64,
        mut raw: serde_json::Value,
    ) -> Result<serde_json::Value, Diagnostic> {
        // Version 0 called the attribute "label".
        assert_eq!(from, 0);
        if let Some(map) = raw.as_object_mut()
            && let Some(label) = map.remove("label")
        {
            map.insert("name".into(), label);
        }
        Ok(raw)
    }
}

struct FullProvider(Arc<Store>);

#[async_trait]
impl Provider for FullProvider {
    fn schema(&self) -> Schema {
        Schema::default()
    }
    async fn configure(&self, _config: Value, _diags: &mut Diagnostics) -> Option<ProviderData> {
        None
    }
    fn resources(&self) -> Vec<Arc<dyn Resource>> {
        vec![Arc::new(Thing(self.0.clone())), Arc::new(Slow)]
    }
    fn ephemeral_resources(&self) -> Vec<Arc<dyn EphemeralResource>> {
        vec![Arc::new(Token)]
    }
    fn list_resources(&self) -> Vec<Arc<dyn ListResource>> {
        vec![Arc::new(ThingList(self.0.clone()))]
    }
}

fn full() -> (ProviderService, Arc<Store>) {
    let store = Arc::new(Store::default());
    (
        ProviderService::new(Arc::new(FullProvider(store.clone()))),
        store,
    )
}

#[test]
fn ephemeral_open_returns_result_private_and_renewal() {
    let (svc, _) = full();
    let t = Token.schema().value_type();
    let r = rt()
        .block_on(
            svc.open_ephemeral_resource(Request::new(pb::open_ephemeral_resource::Request {
                type_name: "rack_test_token".into(),
                config: dv(&obj(&[("scope", s("dns")), ("value", Value::Null)]), &t),
                client_capabilities: None,
            })),
        )
        .unwrap()
        .into_inner();
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    assert_eq!(un(r.result, &t).attr("value"), Some(&s("t0ken")));
    assert_eq!(r.renew_at.map(|t| t.seconds), Some(2_000_000_000));
    assert!(!r.private.unwrap_or_default().is_empty());
}

#[test]
fn list_streams_identities_respecting_limit_and_objects() {
    let (svc, store) = full();
    for n in ["web1", "web2", "web3", "db1"] {
        store.0.lock().unwrap().insert(n.into(), "v".into());
    }
    let lt = ThingList(store.clone()).schema().value_type();
    let rt = rt();
    let events: Vec<_> = rt.block_on(async {
        let stream = svc
            .list_resource(Request::new(pb::list_resource::Request {
                type_name: "rack_test_thing".into(),
                config: dv(&obj(&[("prefix", s("web"))]), &lt),
                include_resource_object: true,
                limit: 2,
            }))
            .await
            .unwrap()
            .into_inner();
        stream.collect::<Vec<_>>().await
    });
    assert_eq!(events.len(), 2);
    let first = events[0].as_ref().unwrap();
    assert_eq!(first.display_name, "web1");
    assert!(first.identity.is_some());
    assert_eq!(
        un(first.resource_object.clone(), &ty()).attr("id"),
        Some(&s("id-web1"))
    );
}

#[test]
fn import_by_identity() {
    let (svc, store) = full();
    store.0.lock().unwrap().insert("x".into(), "1".into());
    let id_ty = Type::object([("name", Type::String)]);
    let r = rt()
        .block_on(
            svc.import_resource_state(Request::new(pb::import_resource_state::Request {
                type_name: "rack_test_thing".into(),
                id: String::new(),
                client_capabilities: None,
                identity: Some(pb::ResourceIdentityData {
                    identity_data: dv(&obj(&[("name", s("x"))]), &id_ty),
                }),
            })),
        )
        .unwrap()
        .into_inner();
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    assert_eq!(
        un(r.imported_resources[0].state.clone(), &ty()).attr("name"),
        Some(&s("x"))
    );
}

#[test]
fn state_upgrade_from_an_older_version() {
    let (svc, _) = full();
    let t = Slow.schema().value_type();
    let r = rt()
        .block_on(
            svc.upgrade_resource_state(Request::new(pb::upgrade_resource_state::Request {
                type_name: "rack_test_slow".into(),
                version: 0,
                raw_state: Some(pb::RawState {
                    json: br#"{"label":"old"}"#.to_vec(),
                    flatmap: Default::default(),
                }),
            })),
        )
        .unwrap()
        .into_inner();
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    assert_eq!(un(r.upgraded_state, &t).attr("name"), Some(&s("old")));
    // A state from a newer provider is refused with a diagnostic.
    let r = rt()
        .block_on(
            svc.upgrade_resource_state(Request::new(pb::upgrade_resource_state::Request {
                type_name: "rack_test_slow".into(),
                version: 7,
                raw_state: Some(pb::RawState {
                    json: br#"{"name":"x"}"#.to_vec(),
                    flatmap: Default::default(),
                }),
            })),
        )
        .unwrap()
        .into_inner();
    assert!(r.diagnostics[0].summary.contains("newer provider"));
}

#[test]
fn create_honours_the_configured_timeout() {
    let (svc, _) = full();
    let t = Slow.schema().value_type();
    let planned = obj(&[
        ("name", s("n")),
        ("timeouts", obj(&[("create", s("50ms"))])),
    ]);
    let r = rt()
        .block_on(
            svc.apply_resource_change(Request::new(pb::apply_resource_change::Request {
                type_name: "rack_test_slow".into(),
                prior_state: dv(&Value::Null, &t),
                planned_state: dv(&planned, &t),
                config: dv(&planned, &t),
                ..Default::default()
            })),
        )
        .unwrap()
        .into_inner();
    assert_eq!(r.diagnostics.len(), 1);
    assert!(r.diagnostics[0].summary.contains("Timed out during create"));
    // Nothing was created: the state stays null, so the next apply tries again.
    assert!(un(r.new_state, &t).is_null());
}
