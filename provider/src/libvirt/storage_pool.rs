//! `rack_storage_pool`: a libvirt storage pool on a hypervisor, a directory (`dir`) or an
//! LVM volume group (`logical`).
//!
//! Changed in place: `autostart` and `active`. Everything else (name, type, path, volume
//! group, devices, hypervisor) replaces the pool; core's `POOL_REPLACE_ATTRIBUTES` is the
//! list, and the plan names the attribute. Refresh reads every pool of a hypervisor in one
//! listing per provider process.

use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;
use rack_core::libvirt::{
    Hypervisor, LibvirtError, PoolKind, PoolSpec, PoolSpecError, PoolState, plan_pool_update,
};
use serde::{Deserialize, Serialize};

use super::shared::{
    InPlace, ObjectModel, create_object, delete_object, hypervisor_attribute, identity_schema,
    import_id_attribute, import_object, libvirt_diag, object_id, object_result, plan_placement,
    planned_target, read_object, replace_on_hypervisor_change, validate_known,
};
use crate::framework::attrs::obj_set;
use crate::framework::plan::PlannedChange;
use crate::framework::schema::{Attribute, Block, IdentitySchema, Schema};
use crate::framework::typed::{self, Planned};
use crate::framework::validate::one_of;
use crate::framework::{
    ApplyRequest, AttributePath, Context, DeleteRequest, Diagnostic, Diagnostics, ImportRequest,
    PlanRequest, Private, ReadRequest, Resource, StateResult,
};
use crate::protocol::value::{Type, Value};

/// The resource.
#[derive(Debug, Clone, Copy, Default)]
pub struct StoragePool;

/// The pool types, as written in configuration.
pub const TYPES: &[&str] = &["dir", "logical"];

/// The pool's attributes, as its configuration, plan and state hold them. What a plan may
/// leave unknown is [`Planned`]; `name` and `type` are needed known.
#[derive(Debug, Deserialize, Serialize)]
struct PoolModel {
    hypervisor: Planned<Option<String>>,
    name: String,
    #[serde(rename = "type")]
    kind: String,
    path: Planned<Option<String>>,
    volume_group: Planned<Option<String>>,
    devices: Planned<Option<Vec<String>>>,
    autostart: Planned<Option<bool>>,
    active: Planned<Option<bool>>,
    uuid: Planned<Option<String>>,
    capacity: Planned<Option<u64>>,
    allocation: Planned<Option<u64>>,
    available: Planned<Option<u64>>,
    id: Planned<Option<String>>,
}

impl ObjectModel for PoolModel {
    fn placement(&self) -> (&Planned<Option<String>>, &Planned<Option<bool>>) {
        (&self.hypervisor, &self.active)
    }
}

/// The configuration (or state) as core's pool model.
fn spec_of(m: &PoolModel) -> Result<PoolSpec, Vec<Diagnostic>> {
    let mut errs = Vec::new();
    let name = m.name.clone();
    let path = m.path.value();
    let group = m.volume_group.value();
    let devices = m.devices.value().cloned().unwrap_or_default();
    let kind = match m.kind.as_str() {
        "dir" => {
            for (attr, set) in [
                ("volume_group", group.is_some()),
                ("devices", !devices.is_empty()),
            ] {
                if set {
                    errs.push(
                        Diagnostic::error(
                            format!("`{attr}` is for logical pools"),
                            "Remove it, or set `type = \"logical\"`.",
                        )
                        .at(AttributePath::attr(attr)),
                    );
                }
            }
            match path {
                Some(p) => PoolKind::Dir { path: p.clone() },
                None => {
                    errs.push(
                        Diagnostic::error(
                            "A dir pool needs its path",
                            "Set `path` to the directory on the hypervisor, e.g. \
                             `/var/lib/libvirt/images`. rack creates it if it is missing.",
                        )
                        .at(AttributePath::attr("path")),
                    );
                    return Err(errs);
                }
            }
        }
        "logical" => {
            let volume_group = group.unwrap_or(&name).clone();
            if let Some(p) = path
                && *p != format!("/dev/{volume_group}")
            {
                errs.push(
                    Diagnostic::error(
                        "A logical pool's path is its volume group's",
                        format!(
                            "Remove `path` (it is `/dev/{volume_group}`), or set \
                             `type = \"dir\"`."
                        ),
                    )
                    .at(AttributePath::attr("path")),
                );
            }
            PoolKind::Logical {
                volume_group,
                devices,
            }
        }
        other => {
            errs.push(
                Diagnostic::error(
                    format!("Unknown pool type {other:?}"),
                    format!("Use one of {}.", TYPES.join(", ")),
                )
                .at(AttributePath::attr("type")),
            );
            return Err(errs);
        }
    };
    let spec = PoolSpec {
        name,
        kind,
        autostart: m.autostart.value().copied().unwrap_or(true),
    };
    if let Err(e) = spec.validate() {
        let attr = match &e {
            PoolSpecError::Name(_) => "name",
            PoolSpecError::Path { attribute, .. } => attribute,
            PoolSpecError::VolumeGroup(_) => "volume_group",
            _ => "name",
        };
        errs.push(
            Diagnostic::error(
                "Invalid storage pool",
                format!("{e}. Fix `{attr}` in the configuration."),
            )
            .at(AttributePath::attr(attr)),
        );
    }
    if errs.is_empty() { Ok(spec) } else { Err(errs) }
}

/// A configuration, plan or state as core's pool model.
fn spec_of_value(v: &Value) -> Result<PoolSpec, Vec<Diagnostic>> {
    spec_of(&typed::from_value(v).map_err(|d| vec![d])?)
}

/// The state for a pool as libvirt holds it.
/// The state of a pool for the list resource, as import gives it; `None` when rack cannot
/// model the pool.
pub(crate) fn listed_state(hv: &str, now: &PoolState) -> Option<Value> {
    state_of(hv, now).ok()
}

fn state_of(hv: &str, now: &PoolState) -> Result<Value, Diagnostic> {
    let spec = now.spec.as_ref().map_err(|e| {
        Diagnostic::error(
            format!("Storage pool {:?} cannot be managed by rack", now.name),
            format!(
                "{e}. rack manages dir and logical pools; remove this one from the \
                 configuration, or manage it with virsh."
            ),
        )
    })?;
    let (kind, group, devices) = match &spec.kind {
        PoolKind::Dir { .. } => ("dir", None, None),
        PoolKind::Logical {
            volume_group,
            devices,
        } => (
            "logical",
            Some(volume_group.clone()),
            Some(devices.clone()).filter(|d| !d.is_empty()),
        ),
        other => {
            return Err(Diagnostic::error(
                format!("Storage pool {:?} cannot be managed by rack", now.name),
                format!("Its kind ({other}) is not one this provider version manages."),
            ));
        }
    };
    let path = match &spec.kind {
        PoolKind::Dir { path } => path.clone(),
        _ => spec.kind.target_path(),
    };
    let model = PoolModel {
        hypervisor: Some(hv.to_owned()).into(),
        name: now.name.clone(),
        kind: kind.to_owned(),
        path: Some(path).into(),
        volume_group: group.into(),
        devices: devices.into(),
        autostart: Some(now.autostart).into(),
        active: Some(now.active).into(),
        uuid: Some(now.uuid.clone()).into(),
        capacity: Some(now.capacity).into(),
        allocation: Some(now.allocation).into(),
        available: Some(now.available).into(),
        id: Some(object_id(hv, &now.name)).into(),
    };
    typed::to_value(&model, &StoragePool.schema().value_type())
}

fn result(hv: &str, now: &PoolState, fallback: &Value) -> StateResult {
    object_result(hv, &now.name, state_of(hv, now), fallback)
}

/// The private-state key recording that rack built the pool's storage (made its
/// directory or volume group), so that destroy may remove it when empty. Absent after an
/// import or in state written before it existed: the storage is then kept.
const BUILT_STORAGE: &str = "built_storage";

fn built_private(built: bool) -> Private {
    let mut p = Private::default();
    p.0.insert(BUILT_STORAGE.to_owned(), serde_json::Value::Bool(built));
    p
}

fn built_storage(private: &Private) -> bool {
    private.0.get(BUILT_STORAGE) == Some(&serde_json::Value::Bool(true))
}

#[async_trait]
impl Resource for StoragePool {
    fn type_name(&self) -> &'static str {
        "rack_storage_pool"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            Block::new(
                "A libvirt storage pool on a KVM hypervisor: a directory holding one file per \
                 volume (`dir`), or an LVM volume group holding one logical volume per volume \
                 (`logical`). Creating it defines it, builds what is missing (`mkdir -p` for a \
                 directory that does not exist; `pvcreate` and `vgcreate` on `devices` for a \
                 volume group, refusing devices that carry a filesystem or LVM signature), \
                 starts it and sets autostart; a failed create leaves no definition behind.\n\n\
                 Changed in place: `autostart` and `active`. A change to `hypervisor`, \
                 `name`, `type`, `path`, `volume_group` or `devices` replaces the pool, and \
                 the plan names the attribute.\n\n\
                 Destroying stops the pool and removes its definition. Its storage is removed \
                 only when empty and rack built it (recorded in the resource's private \
                 state): a directory rack created with no volume left in it, a volume group \
                 rack built from `devices` with no logical volume left. A directory that \
                 existed before, a volume group the pool merely uses, the storage of an \
                 imported pool, and volumes not managed here, are kept.\n\n\
                 Drift: a pool stopped out of band shows as `active` changing back to \
                 `true`; one undefined out of band is created again.",
            )
            .attributes([
                hypervisor_attribute("pool"),
                Attribute::string("name")
                    .required()
                    .requires_replace()
                    .description("The pool's name on the hypervisor."),
                Attribute::string("type")
                    .required()
                    .requires_replace()
                    .validator(one_of(TYPES.iter().copied()))
                    .description("`dir` (a directory) or `logical` (an LVM volume group)."),
                Attribute::string("path").optional().computed().description(
                    "For `dir`: the directory on the hypervisor (absolute, required; created \
                     when missing). For `logical`: `/dev/<volume_group>`, computed. Changing \
                     it replaces the pool.",
                ),
                Attribute::string("volume_group")
                    .optional()
                    .computed()
                    .description(
                        "For `logical`: the LVM volume group; the pool's name when omitted. \
                         Changing it replaces the pool.",
                    ),
                Attribute::list("devices", Type::String)
                    .optional()
                    .requires_replace()
                    .description(
                        "For `logical`: block devices (e.g. `/dev/sdb`) to build the volume \
                         group on. Omitted: the volume group must exist already, and \
                         destroying the pool keeps it.",
                    ),
                Attribute::bool("autostart")
                    .optional()
                    .computed()
                    .default(Value::Bool(true))
                    .description(
                        "Whether libvirt starts the pool when its daemon starts. Default: `true`.",
                    ),
                Attribute::bool("active")
                    .optional()
                    .computed()
                    .default(Value::Bool(true))
                    .description(
                        "Whether the pool runs (its volumes can be used only then). Default \
                         `true`: a pool stopped out of band is started again by the next apply.",
                    ),
                Attribute::string("uuid")
                    .computed()
                    .use_state_for_unknown()
                    .description("libvirt's UUID of the pool."),
                Attribute::number("capacity")
                    .computed()
                    .description("Size of the underlying storage in bytes (0 while inactive)."),
                Attribute::number("allocation")
                    .computed()
                    .description("Bytes allocated to volumes (0 while inactive)."),
                Attribute::number("available")
                    .computed()
                    .description("Bytes free for new volumes (0 while inactive)."),
                import_id_attribute("<name>"),
            ]),
        )
    }

    fn identity_schema(&self) -> Option<IdentitySchema> {
        identity_schema(&[("name", "The pool's name.")])
    }

    async fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        validate_known(
            config,
            &["name", "type", "path", "volume_group", "devices"],
            diags,
            spec_of,
        );
    }

    async fn modify_plan(&self, ctx: &Context, req: PlanRequest<'_>, plan: &mut PlannedChange) {
        let prior = req.prior;
        plan_placement(ctx, &mut plan.planned, &["name"]);
        // A logical pool's volume group and path are known at plan time.
        if let Ok(m) = typed::from_value::<PoolModel>(&plan.planned)
            && m.kind == "logical"
        {
            let group = match &m.volume_group {
                Planned::Unknown => {
                    obj_set(
                        &mut plan.planned,
                        "volume_group",
                        Value::from(m.name.as_str()),
                    );
                    Some(&m.name)
                }
                Planned::Known(group) => group.as_ref(),
            };
            if m.path.is_unknown()
                && let Some(vg) = group
            {
                obj_set(&mut plan.planned, "path", Value::from(format!("/dev/{vg}")));
            }
        }
        if prior.is_null() {
            return;
        }
        replace_on_hypervisor_change(prior, plan);
        let (Ok(current), Ok(desired)) = (spec_of_value(prior), spec_of_value(&plan.planned))
        else {
            return;
        };
        for attr in plan_pool_update(&current, &desired).replace {
            plan.requires_replace.push(AttributePath::attr(attr));
        }
        if !plan.requires_replace.is_empty() {
            for attr in ["uuid", "capacity", "allocation", "available"] {
                obj_set(&mut plan.planned, attr, Value::Unknown);
            }
        }
    }

    async fn create(&self, ctx: &Context, req: ApplyRequest) -> StateResult {
        let planned = req.planned;
        let created = async {
            let (m, spec, hv) = planned_target(ctx, &planned, "storage pool", spec_of)?;
            let mut built = false;
            let (now, diags) = create_object(
                &hv,
                &spec.name,
                ("storage pool", "pool"),
                m.want_active(),
                async || {
                    let created = hv.handle.create_pool_recording(&spec).await?;
                    built = created.built_storage;
                    Ok(created.state)
                },
                async || hv.handle.set_pool_active(&spec.name, false).await,
            )
            .await?;
            let mut out = result(&hv.name, &now, &planned);
            out.private = built_private(built);
            out.diags.extend(diags);
            Ok(out)
        };
        StateResult::or_failed(created.await, Value::Null)
    }

    async fn read(&self, ctx: &Context, req: ReadRequest) -> StateResult {
        let fetch = |hv: Hypervisor, name: String| async move { hv.pool(&name).await };
        read_object(ctx, req.state, "storage pool", fetch, |hv, now, state| {
            let mut out = result(hv, now, state);
            out.private = req.private;
            out
        })
        .await
    }

    async fn update(&self, ctx: &Context, req: ApplyRequest) -> StateResult {
        let (prior, planned) = (req.prior, req.planned);
        let private = req.private;
        let (m, desired, hv) = match planned_target(ctx, &planned, "storage pool", spec_of) {
            Ok(t) => t,
            Err(d) => return StateResult::failed(prior, d),
        };
        let name = desired.name.clone();
        let fail = |e: &LibvirtError| {
            libvirt_diag(
                e,
                &format!(
                    "Updating storage pool {name:?} on hypervisor {:?}.",
                    hv.name
                ),
            )
        };
        // A pool defined again records whether rack built its storage.
        let private = Mutex::new(private);
        let steps = InPlace {
            fail,
            result: |n: &PoolState, base: &Value| {
                let mut r = result(&hv.name, n, base);
                r.private = private
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone();
                r
            },
        };
        steps
            .run(
                (prior, &planned, m.want_active()),
                async || hv.handle.update_pool(&desired).await,
                async || {
                    let c = hv.handle.create_pool_recording(&desired).await?;
                    *private.lock().unwrap_or_else(PoisonError::into_inner) =
                        built_private(c.built_storage);
                    Ok(c.state)
                },
                async || hv.handle.pool_fresh(&name).await,
                async |on| hv.handle.set_pool_active(&name, on).await,
                |n| n.active,
            )
            .await
    }

    async fn delete(&self, ctx: &Context, req: DeleteRequest) -> Diagnostics {
        let hint = "Check that no running guest still uses its volumes.";
        let remove_storage = built_storage(&req.private);
        let delete = |hv: Hypervisor, name: String| async move {
            hv.delete_pool_with(&name, remove_storage).await.map(|_| ())
        };
        delete_object(ctx, &req.prior, "storage pool", hint, delete).await
    }

    async fn import(&self, ctx: &Context, req: ImportRequest) -> StateResult {
        let fetch = |hv: Hypervisor, name: String| async move { hv.pool_fresh(&name).await };
        import_object(ctx, &req, "storage pool", "pool-list", fetch, |hv, now| {
            result(hv, now, &Value::Null)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: Vec<(&str, Value)>) -> Value {
        let mut base = vec![
            ("name", Value::from("images")),
            ("type", Value::from("dir")),
            ("path", Value::from("/srv/images")),
            ("volume_group", Value::Null),
            ("devices", Value::Null),
            ("autostart", Value::Bool(true)),
        ];
        for attr in [
            "hypervisor",
            "active",
            "uuid",
            "capacity",
            "allocation",
            "available",
            "id",
        ] {
            base.push((attr, Value::Null));
        }
        for (k, v) in pairs {
            base.retain(|(n, _)| *n != k);
            base.push((k, v));
        }
        Value::object(base)
    }

    #[test]
    fn configuration_becomes_the_model() {
        assert_eq!(
            spec_of_value(&config(vec![])).unwrap(),
            PoolSpec::dir("images", "/srv/images")
        );
        let lvm = config(vec![
            ("type", Value::from("logical")),
            ("path", Value::Null),
            ("devices", Value::List(vec![Value::from("/dev/sdb")])),
        ]);
        assert_eq!(
            spec_of_value(&lvm).unwrap(),
            PoolSpec::logical("images", "images", vec!["/dev/sdb".into()])
        );
    }

    #[test]
    fn bad_input_points_at_the_attribute() {
        let cases = [
            (config(vec![("path", Value::Null)]), "path"),
            (config(vec![("path", Value::from("relative"))]), "path"),
            (
                config(vec![("volume_group", Value::from("vg"))]),
                "volume_group",
            ),
            (
                config(vec![(
                    "devices",
                    Value::List(vec![Value::from("/dev/sdb")]),
                )]),
                "devices",
            ),
            (
                config(vec![
                    ("type", Value::from("logical")),
                    ("volume_group", Value::from("-bad")),
                ]),
                "volume_group",
            ),
            (
                config(vec![
                    ("type", Value::from("logical")),
                    ("path", Value::from("/srv/x")),
                ]),
                "path",
            ),
            (config(vec![("name", Value::from("a b"))]), "name"),
        ];
        for (c, path) in cases {
            let errs = spec_of_value(&c).unwrap_err();
            let paths: Vec<String> = errs
                .iter()
                .filter_map(|d| d.attribute.as_ref().map(ToString::to_string))
                .collect();
            assert!(paths.contains(&path.to_string()), "{path}: {errs:?}");
        }
    }

    #[test]
    fn state_reads_back_as_the_same_model() {
        let spec = PoolSpec::logical("fast", "vg0", vec![]);
        let now = PoolState {
            name: "fast".into(),
            uuid: "u".into(),
            active: true,
            persistent: true,
            autostart: true,
            capacity: 10,
            allocation: 1,
            available: 9,
            xml: String::new(),
            spec: Ok(spec.clone()),
        };
        let state = state_of("kvm1", &now).unwrap();
        assert_eq!(state.attr("path"), Some(&Value::from("/dev/vg0")));
        assert_eq!(state.attr("id"), Some(&Value::from("kvm1/fast")));
        assert_eq!(spec_of_value(&state).unwrap(), spec);
    }
}
