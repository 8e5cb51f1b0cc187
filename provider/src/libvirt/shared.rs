//! What the libvirt resources, data sources and list resources share: finding the
//! hypervisor, import IDs of the form `<hypervisor>/<name>`, the read, import, delete and
//! list flows, and libvirt errors as diagnostics.

use std::future::Future;

use rack_core::libvirt::{Hypervisor, LibvirtError};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::config;
use crate::config::hypervisors::{Hypervisors, NamedHypervisor};
use crate::framework::attrs::{incomplete, obj_set, str_attr};
use crate::framework::plan::PlannedChange;
use crate::framework::schema::{Attribute, Block, IdentityAttribute, IdentitySchema, Schema};
use crate::framework::typed::{self, Planned};
use crate::framework::{
    AttributePath, Context, Diagnostic, Diagnostics, ImportRequest, ListItem, ListRequest,
    ListSink, StateResult,
};
use crate::protocol::value::Value;

/// What an attribute naming a hypervisor says of it.
pub const HYPERVISOR_DESCRIPTION: &str = "Name of a hypervisor in the provider's `hypervisors` map; the default \
     hypervisor when omitted.";

/// The optional and computed `hypervisor` attribute of a resource (the default
/// hypervisor's name is planned when it is left out) whose object a change of it
/// replaces; `noun` names the object, e.g. `pool`.
pub fn hypervisor_attribute(noun: &str) -> Attribute {
    Attribute::string("hypervisor")
        .optional()
        .computed()
        .description(format!(
            "{HYPERVISOR_DESCRIPTION} Changing it replaces the {noun}."
        ))
}

/// The computed `id` attribute of a resource whose import ID is `<hypervisor>/` followed
/// by `path` (e.g. `<pool>/<name>`), or `path` alone for the default hypervisor.
pub fn import_id_attribute(path: &str) -> Attribute {
    Attribute::string("id").computed().description(format!(
        "`<hypervisor>/{path}`: the import ID (`{path}` alone for the default hypervisor)."
    ))
}

/// The hypervisor a resource names (or the default), from the configured provider.
pub fn hypervisor(ctx: &Context, name: Option<&str>) -> Result<NamedHypervisor, Diagnostic> {
    config::clients::<Hypervisors>(ctx)?.get(name)
}

/// Plans the default hypervisor's name where the configuration leaves `hypervisor` out,
/// so the plan shows where the object will live.
pub fn plan_default_hypervisor(ctx: &Context, planned: &mut Value) {
    if planned.attr("hypervisor").is_some_and(Value::is_unknown)
        && let Ok(hv) = hypervisor(ctx, None)
    {
        obj_set(planned, "hypervisor", Value::from(hv.name.as_str()));
    }
}

/// A libvirt failure as a diagnostic: the error's message (which says what to check) as
/// summary, the chain as detail, and `hint` about what rack was doing.
pub fn libvirt_diag(e: &LibvirtError, hint: &str) -> Diagnostic {
    Diagnostic::from_error(e, hint)
}

/// Where an import points: the hypervisor and the object's names, `keys` in order (e.g.
/// `["pool", "name"]`), from an ID `<hypervisor>/<pool>/<name>` (the hypervisor may be
/// left out for the default one) or from an identity holding `hypervisor` and the keys.
pub fn import_target(
    ctx: &Context,
    req: &ImportRequest,
    keys: &[&str],
) -> Result<(NamedHypervisor, Vec<String>), Diagnostic> {
    let (hv_name, names) = match req {
        ImportRequest::Id(id) => split_import_id(id, keys.len()).ok_or_else(|| {
            let path = keys
                .iter()
                .map(|k| format!("<{k}>"))
                .collect::<Vec<_>>()
                .join("/");
            Diagnostic::invalid_import_id(
                id,
                format!("Use `<hypervisor>/{path}`, or `{path}` for the default hypervisor."),
            )
        })?,
        ImportRequest::Identity(v) => (
            str_attr(v, "hypervisor").map(str::to_string),
            keys.iter()
                .map(|k| str_attr(v, k).unwrap_or_default().to_string())
                .collect(),
        ),
    };
    Ok((hypervisor(ctx, hv_name.as_deref())?, names))
}

/// Splits an import ID `<hypervisor>/<rest>` or `<rest>` (default hypervisor), where
/// `rest` has `parts` segments separated by `/`.
pub fn split_import_id(id: &str, parts: usize) -> Option<(Option<String>, Vec<String>)> {
    let segments: Vec<&str> = id.split('/').collect();
    if segments.iter().any(|s| s.is_empty()) {
        return None;
    }
    if segments.len() == parts {
        Some((None, segments.iter().map(|s| (*s).to_string()).collect()))
    } else if segments.len() == parts + 1 {
        Some((
            Some(segments[0].to_string()),
            segments[1..].iter().map(|s| (*s).to_string()).collect(),
        ))
    } else {
        None
    }
}

/// What create and update start from: the object `spec` read from the plan (its errors,
/// or an error saying the `noun` is incomplete) and the hypervisor the plan names.
pub fn apply_target<S>(
    ctx: &Context,
    hypervisor_name: Option<&str>,
    spec: Result<S, Vec<Diagnostic>>,
    noun: &str,
) -> Result<(S, NamedHypervisor), Diagnostics> {
    let spec = spec.map_err(|errs| incomplete(errs, noun))?;
    Ok((spec, hypervisor(ctx, hypervisor_name)?))
}

/// A libvirt resource's model: its configuration, plan or state read as a struct.
pub trait ObjectModel: DeserializeOwned {
    /// Its `hypervisor` and `active` attributes.
    fn placement(&self) -> (&Planned<Option<String>>, &Planned<Option<bool>>);

    /// The hypervisor it names; the default one when `None`.
    fn hypervisor(&self) -> Option<&str> {
        self.placement().0.value().map(String::as_str)
    }

    /// Whether the object should run (`active`, on by default).
    fn want_active(&self) -> bool {
        self.placement().1.value().copied().unwrap_or(true)
    }
}

/// What create and update start from, read from the plan: the model, the object `spec`
/// that `spec_of` makes of it (its errors, or an error saying the `noun` is incomplete),
/// and the hypervisor.
pub fn planned_target<M: ObjectModel, S>(
    ctx: &Context,
    planned: &Value,
    noun: &str,
    spec_of: impl FnOnce(&M) -> Result<S, Vec<Diagnostic>>,
) -> Result<(M, S, NamedHypervisor), Diagnostics> {
    let model: M = typed::from_value(planned)?;
    let (spec, hv) = apply_target(ctx, model.hypervisor(), spec_of(&model), noun)?;
    Ok((model, spec, hv))
}

/// Where an object lives, as its state names it.
#[derive(Debug, Deserialize)]
pub struct Placement {
    /// The hypervisor; the default one when null.
    pub hypervisor: Option<String>,
    /// The object's name on it.
    pub name: Option<String>,
}

/// The object `state` names and its hypervisor; `Ok(None)` when the state names none.
fn placed(ctx: &Context, state: &Value) -> Result<Option<(NamedHypervisor, String)>, Diagnostic> {
    let Placement {
        hypervisor: hv,
        name,
    } = typed::from_value(state)?;
    let Some(name) = name else { return Ok(None) };
    Ok(Some((hypervisor(ctx, hv.as_deref())?, name)))
}

/// Refreshes the object that `state` names (`name` on `hypervisor`): `fetch` reads it,
/// `to_state` writes the new state from it; an object that is gone leaves the state
/// empty, so Terraform plans to create it again. `noun` names the kind in messages, e.g.
/// `storage pool`.
pub async fn read_object<T, Fut>(
    ctx: &Context,
    state: Value,
    noun: &str,
    fetch: impl FnOnce(Hypervisor, String) -> Fut,
    to_state: impl FnOnce(&str, &T, &Value) -> StateResult,
) -> StateResult
where
    Fut: Future<Output = Result<Option<T>, LibvirtError>>,
{
    let (hv, name) = match placed(ctx, &state) {
        Ok(Some(p)) => p,
        Ok(None) => return StateResult::failed(state, incomplete(Vec::new(), noun)),
        Err(d) => return StateResult::failed(state, d),
    };
    match fetch(hv.handle.clone(), name.clone()).await {
        Ok(Some(now)) => to_state(&hv.name, &now, &state),
        Ok(None) => StateResult::default(),
        Err(e) => {
            let d = libvirt_diag(
                &e,
                &format!("Reading {noun} {name:?} on hypervisor {:?}.", hv.name),
            );
            StateResult::failed(state, d)
        }
    }
}

/// Deletes the object that `prior` names (`name` on `hypervisor`) with `delete`; a failure
/// says what rack was deleting and `hint`, what to check.
pub async fn delete_object<Fut>(
    ctx: &Context,
    prior: &Value,
    noun: &str,
    hint: &str,
    delete: impl FnOnce(Hypervisor, String) -> Fut,
) -> Diagnostics
where
    Fut: Future<Output = Result<(), LibvirtError>>,
{
    let (hv, name) = match placed(ctx, prior) {
        Ok(Some(p)) => p,
        Ok(None) => return Diagnostics::new(),
        Err(d) => return d.into(),
    };
    match delete(hv.handle.clone(), name.clone()).await {
        Ok(()) => Diagnostics::new(),
        Err(e) => {
            let what = format!("Deleting {noun} {name:?} on hypervisor {:?}.", hv.name);
            let what = if hint.is_empty() {
                what
            } else {
                format!("{what} {hint}")
            };
            libvirt_diag(&e, &what).into()
        }
    }
}

/// Imports the object an import ID or identity names (`<hypervisor>/<name>`): `fetch`
/// reads it afresh, `to_state` writes its state. `noun` names the kind in messages and
/// `virsh_list` is the `virsh` command that lists the objects of that kind.
pub async fn import_object<T, Fut>(
    ctx: &Context,
    req: &ImportRequest,
    noun: &str,
    virsh_list: &str,
    fetch: impl FnOnce(Hypervisor, String) -> Fut,
    to_state: impl FnOnce(&str, &T) -> StateResult,
) -> StateResult
where
    Fut: Future<Output = Result<Option<T>, LibvirtError>>,
{
    let (hv, name) = match import_target(ctx, req, &["name"]) {
        Ok((hv, mut names)) => (hv, names.remove(0)),
        Err(d) => return StateResult::failed(Value::Null, d),
    };
    match fetch(hv.handle.clone(), name.clone()).await {
        Ok(Some(now)) => to_state(&hv.name, &now),
        Ok(None) => StateResult::failed(
            Value::Null,
            Diagnostic::error(
                format!("No {noun} {name:?} on hypervisor {:?}", hv.name),
                format!(
                    "Check the name (`virsh {virsh_list} --all` on the hypervisor lists them) \
                     and the hypervisor."
                ),
            ),
        ),
        Err(e) => StateResult::failed(
            Value::Null,
            libvirt_diag(&e, &format!("Reading {noun} {name:?} for import.")),
        ),
    }
}

/// The schema of a libvirt list block: `description`, the `hypervisor` to list, then
/// `extra` attributes.
pub fn list_schema(description: &str, extra: impl IntoIterator<Item = Attribute>) -> Schema {
    let attributes = std::iter::once(
        Attribute::string("hypervisor")
            .optional()
            .description(HYPERVISOR_DESCRIPTION),
    )
    .chain(extra);
    Schema::new(Block::new(description).attributes(attributes))
}

/// Lists the objects of the hypervisor a list block names for `terraform query`: `fetch`
/// reads them (one listing of the hypervisor), `item` makes each a list item (with its
/// state when the request asks for resources, the third argument); sent sorted by
/// display name, at most the request's limit. `what` names the objects in messages, e.g.
/// `the networks`. When resources are asked for, an object rack cannot model (no state)
/// is left out with a warning: Terraform cannot generate configuration from an item
/// without its resource object.
pub async fn list_objects<T, Fut, ItemFut>(
    ctx: &Context,
    req: ListRequest,
    sink: ListSink,
    what: &str,
    fetch: impl FnOnce(Hypervisor) -> Fut,
    item: impl Fn(&NamedHypervisor, &T, bool) -> ItemFut,
) where
    Fut: Future<Output = Result<Vec<T>, LibvirtError>>,
    ItemFut: Future<Output = Result<ListItem, Diagnostic>>,
{
    let listed = async {
        let hv = hypervisor(ctx, str_attr(&req.config, "hypervisor"))?;
        let all = fetch(hv.handle.clone()).await.map_err(|e| {
            libvirt_diag(&e, &format!("Listing {what} of hypervisor {:?}.", hv.name))
        })?;
        let mut items = Vec::with_capacity(all.len());
        for one in &all {
            let listed = item(&hv, one, req.include_resource).await?;
            if req.include_resource && listed.resource.is_none() {
                sink.diagnostic(Diagnostic::warning(
                    format!("{} is not listed", listed.display_name),
                    "rack cannot model it (see the resource's documentation for what it \
                     manages), so it cannot be imported.",
                ))
                .await;
                continue;
            }
            items.push(listed);
        }
        items.sort_by(|a, b| a.display_name.cmp(&b.display_name));
        items.truncate(req.max_items());
        sink.send_all(items.into_iter().map(Ok)).await
    };
    sink.finish(listed.await).await;
}

/// The identity of an object on a hypervisor: the hypervisor (optional), then `keys` as
/// `(name, description)` pairs, all required.
pub fn identity_schema(keys: &[(&str, &str)]) -> Option<IdentitySchema> {
    let mut attributes = vec![IdentityAttribute::optional_string(
        "hypervisor",
        "Hypervisor name; the default hypervisor when omitted.",
    )];
    attributes.extend(
        keys.iter()
            .map(|&(name, description)| IdentityAttribute::required_string(name, description)),
    );
    Some(IdentitySchema {
        version: 0,
        attributes,
    })
}

/// Plans where a new or changed object lives: the default hypervisor where the configuration
/// leaves it out, and `id` (`<hypervisor>/<key>/...`) once the hypervisor and `keys` are
/// known.
pub fn plan_placement(ctx: &Context, planned: &mut Value, keys: &[&str]) {
    plan_default_hypervisor(ctx, planned);
    let parts: Option<Vec<&str>> = std::iter::once("hypervisor")
        .chain(keys.iter().copied())
        .map(|k| str_attr(planned, k))
        .collect();
    if let Some(parts) = parts {
        let id = parts.join("/");
        obj_set(planned, "id", Value::from(id));
    }
}

/// An object moves to another hypervisor only by replacement.
pub fn replace_on_hypervisor_change(prior: &Value, plan: &mut PlannedChange) {
    if str_attr(&plan.planned, "hypervisor") != str_attr(prior, "hypervisor") {
        plan.requires_replace
            .push(AttributePath::attr("hypervisor"));
    }
}

/// Checks the configuration, read as the resource's model `M`, with `check` once every
/// attribute in `attrs` is known.
pub fn validate_known<M: DeserializeOwned, T>(
    config: &Value,
    attrs: &[&str],
    diags: &mut Diagnostics,
    check: impl FnOnce(&M) -> Result<T, Vec<Diagnostic>>,
) {
    let known = attrs
        .iter()
        .all(|a| config.attr(a).is_none_or(Value::is_fully_known));
    if !known {
        return;
    }
    match typed::from_value(config) {
        Ok(model) => {
            if let Err(errs) = check(&model) {
                for e in errs {
                    diags.push(e);
                }
            }
        }
        Err(d) => diags.push(d),
    }
}

/// The import ID of an object: `<hypervisor>/<name>`.
pub fn object_id(hv: &str, name: &str) -> String {
    format!("{hv}/{name}")
}

/// The identity of an object named `name` on hypervisor `hv`.
pub fn identity(hv: &str, name: &str) -> Value {
    Value::object([("hypervisor", Value::from(hv)), ("name", Value::from(name))])
}

/// The result of an operation that found object `name` on `hv`: its `state` with its
/// identity, or, when the state could not be written, `fallback` with the error.
pub fn object_result(
    hv: &str,
    name: &str,
    state: Result<Value, Diagnostic>,
    fallback: &Value,
) -> StateResult {
    match state {
        Ok(state) => StateResult {
            state,
            identity: Some(identity(hv, name)),
            ..StateResult::default()
        },
        Err(d) => StateResult::failed(fallback.clone(), d),
    }
}

/// Creates an object (`create`), then stops it with `stop` when the plan wants it
/// inactive. `noun` names the kind in messages (`storage pool`), `short` in the message
/// of a failed stop (`pool`). A failed create is an error; a failed stop is a diagnostic
/// beside what was created.
pub async fn create_object<S>(
    hv: &NamedHypervisor,
    name: &str,
    (noun, short): (&str, &str),
    want_active: bool,
    create: impl AsyncFnOnce() -> Result<S, LibvirtError>,
    stop: impl AsyncFnOnce() -> Result<S, LibvirtError>,
) -> Result<(S, Diagnostics), Diagnostic> {
    let mut now = create().await.map_err(|e| {
        libvirt_diag(
            &e,
            &format!("Creating {noun} {name:?} on hypervisor {:?}.", hv.name),
        )
    })?;
    let mut diags = Diagnostics::new();
    if !want_active {
        match stop().await {
            Ok(n) => now = n,
            Err(e) => diags.push(libvirt_diag(
                &e,
                &format!("Stopping the {short} after creating it."),
            )),
        }
    }
    Ok((now, diags))
}

/// The steps of updating one libvirt object in place, as the network and pool resources
/// do: `update`, or `recreate` when someone undefined the object since the refresh; after a
/// failed update the state is what `fresh` finds. Then the object is started or stopped as
/// `active` in the plan asks (default on).
pub struct InPlace<Fail, Res> {
    /// The diagnostic for a libvirt failure.
    pub fail: Fail,
    /// The state to record for what exists, over the given configuration.
    pub result: Res,
}

impl<Fail, Res> InPlace<Fail, Res> {
    /// Runs the update of `planned` over `prior`; the object should run when
    /// `want_active`.
    pub async fn run<S>(
        self,
        (prior, planned, want_active): (Value, &Value, bool),
        update: impl AsyncFnOnce() -> Result<S, LibvirtError>,
        recreate: impl AsyncFnOnce() -> Result<S, LibvirtError>,
        fresh: impl AsyncFnOnce() -> Result<Option<S>, LibvirtError>,
        set_active: impl AsyncFnOnce(bool) -> Result<S, LibvirtError>,
        active: impl Fn(&S) -> bool,
    ) -> StateResult
    where
        Fail: Fn(&LibvirtError) -> Diagnostic,
        Res: Fn(&S, &Value) -> StateResult,
    {
        let (fail, result) = (self.fail, self.result);
        let mut now = match update().await {
            Ok(n) => n,
            Err(LibvirtError::NotFound { .. }) => match recreate().await {
                Ok(n) => n,
                Err(e) => return StateResult::failed(Value::Null, fail(&e)),
            },
            Err(e) => {
                let d = fail(&e);
                return match fresh().await {
                    Ok(Some(n)) => {
                        let mut r = result(&n, &prior);
                        r.diags.push(d);
                        r
                    }
                    Ok(None) => StateResult::failed(Value::Null, d),
                    Err(_) => StateResult::failed(prior, d),
                };
            }
        };
        let mut diags = Diagnostics::new();
        if active(&now) != want_active {
            match set_active(want_active).await {
                Ok(n) => now = n,
                Err(e) => diags.push(fail(&e)),
            }
        }
        let mut out = result(&now, planned);
        out.diags.extend(diags);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_import_id_of_the_wrong_shape_says_what_to_write() {
        let ctx = Context::new(None, std::sync::Arc::default());
        let req = ImportRequest::Id("kvm1/default/disk0/extra".into());
        let Err(d) = import_target(&ctx, &req, &["pool", "name"]) else {
            panic!("a four-part ID for a volume was accepted");
        };
        assert_eq!(d.summary, "Invalid import ID \"kvm1/default/disk0/extra\"");
        assert_eq!(
            d.detail,
            "Use `<hypervisor>/<pool>/<name>`, or `<pool>/<name>` for the default hypervisor."
        );
        let req = ImportRequest::Id("a//b".into());
        let Err(d) = import_target(&ctx, &req, &["name"]) else {
            panic!("an ID with an empty part was accepted");
        };
        assert_eq!(
            d.detail,
            "Use `<hypervisor>/<name>`, or `<name>` for the default hypervisor."
        );
    }

    #[test]
    fn import_ids_with_and_without_hypervisor() {
        assert_eq!(
            split_import_id("farm", 1),
            Some((None, vec!["farm".to_string()]))
        );
        assert_eq!(
            split_import_id("kvm1/farm", 1),
            Some((Some("kvm1".to_string()), vec!["farm".to_string()]))
        );
        assert_eq!(
            split_import_id("kvm1/default/disk0", 2),
            Some((
                Some("kvm1".to_string()),
                vec!["default".to_string(), "disk0".to_string()]
            ))
        );
        assert_eq!(split_import_id("a/b/c", 1), None);
        assert_eq!(split_import_id("kvm1/", 1), None);
    }
}
