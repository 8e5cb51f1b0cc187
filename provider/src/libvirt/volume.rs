//! `rack_volume`: a storage volume in a pool, empty, a qcow2 overlay on a base volume, a
//! full copy of another volume, or filled from a file or URL checked against its SHA-256.
//!
//! `size` grows in place (`virStorageVolResize`); a smaller size is refused at plan time
//! at `size`, since the end of the guest's disk would be lost. Everything else replaces
//! the volume. The content attributes (`base_volume`, `clone_of`, `source_file`,
//! `source_url`, `sha256`) describe how the volume was made: changing one from one value
//! to another replaces it, but setting them on a volume that has none recorded (imported,
//! or created empty) adopts the volume as it is, rather than wiping a disk in use. A
//! volume's base is read back from libvirt, so an overlay rebased out of band shows as a
//! change of `base_volume`.

use async_trait::async_trait;
use rack_core::ByteSize;
use rack_core::libvirt::{
    Hypervisor, LibvirtError, ObjectKind, PoolKind, SourceLocation, UploadSource, VolumeContent,
    VolumeRef, VolumeSpec, VolumeSpecError, VolumeState, check_volume_name, check_volume_pool,
};
use serde::{Deserialize, Serialize};

use super::shared::{
    apply_target, hypervisor, hypervisor_attribute, identity_schema, import_id_attribute,
    import_target, libvirt_diag, plan_placement, replace_on_hypervisor_change,
};
use crate::config::hypervisors::NamedHypervisor;
use crate::framework::attrs::incomplete;
use crate::framework::plan::PlannedChange;
use crate::framework::schema::{Attribute, Block, IdentitySchema, Schema};
use crate::framework::typed::{self, Planned};
use crate::framework::validate::{check, one_of};
use crate::framework::{
    ApplyRequest, AttributePath, Context, DeleteRequest, Diagnostic, Diagnostics, ImportRequest,
    PlanRequest, ReadRequest, Resource, StateResult,
};
use crate::protocol::value::Value;

/// The resource.
#[derive(Debug, Clone, Copy, Default)]
pub struct Volume;

/// The formats, as written in configuration.
pub const FORMATS: &[&str] = &["qcow2", "raw"];

/// The attributes that say what a new volume holds; at most one is set.
pub const CONTENT_SOURCES: &[&str] = &["base_volume", "clone_of", "source_file", "source_url"];

/// An attribute that may be unknown in a plan, null, or a string.
type Text = Planned<Option<String>>;

/// The volume's attributes, as its configuration, plan and state hold them. Each is
/// [`Planned`]: the configuration is checked attribute by attribute as each becomes known,
/// and the plan rules work on a plan that may leave any of them unknown.
#[derive(Debug, PartialEq, Deserialize, Serialize)]
struct VolumeModel {
    hypervisor: Text,
    pool: Text,
    name: Text,
    format: Text,
    size: Text,
    base_volume: Text,
    clone_of: Text,
    source_file: Text,
    source_url: Text,
    sha256: Text,
    capacity: Planned<Option<u64>>,
    allocation: Planned<Option<u64>>,
    path: Text,
    id: Text,
}

impl VolumeModel {
    /// The hypervisor it names; the default one when `None`.
    fn hypervisor(&self) -> Option<&str> {
        self.hypervisor.value().map(String::as_str)
    }

    /// The attributes that describe the content: the [`CONTENT_SOURCES`], then `sha256`.
    fn content(&self) -> [(&'static str, &Text); 5] {
        [
            ("base_volume", &self.base_volume),
            ("clone_of", &self.clone_of),
            ("source_file", &self.source_file),
            ("source_url", &self.source_url),
            ("sha256", &self.sha256),
        ]
    }
}

/// Whether a value is known to be null.
fn is_null(v: &Text) -> bool {
    matches!(v, Planned::Known(None))
}

/// Parses `size`, with the diagnostic at the attribute.
pub fn parse_size(text: &str) -> Result<u64, Diagnostic> {
    text.parse::<ByteSize>().map(ByteSize::bytes).map_err(|e| {
        Diagnostic::error(format!("Invalid size {text:?}"), e.to_string())
            .at(AttributePath::attr("size"))
    })
}

/// Checks what can be checked of the configuration alone: the size, one content source
/// at most, the checksum with (and only with) an upload, the format an overlay needs.
fn check_config(m: &VolumeModel) -> Vec<Diagnostic> {
    let mut errs = Vec::new();
    let names = [
        (
            "name",
            &m.name,
            check_volume_name as fn(&str) -> Result<(), VolumeSpecError>,
        ),
        ("pool", &m.pool, check_volume_pool),
    ];
    for (attr, value, check) in names {
        if let Some(text) = value.value()
            && let Err(e) = check(text)
        {
            errs.push(
                Diagnostic::error(
                    format!("Invalid volume {attr}"),
                    format!("{e}. Fix `{attr}` in the configuration."),
                )
                .at(AttributePath::attr(attr)),
            );
        }
    }
    if let Some(size) = m.size.value() {
        match parse_size(size) {
            Ok(0) => errs.push(
                Diagnostic::error(
                    "Size must be more than 0 bytes",
                    "Give a size such as 20GiB.",
                )
                .at(AttributePath::attr("size")),
            ),
            Ok(_) => {}
            Err(d) => errs.push(d),
        }
    }
    let content = m.content();
    let sources_known = content[..4].iter().all(|(_, v)| !v.is_unknown());
    let sources: Vec<&str> = content[..4]
        .iter()
        .filter(|(_, v)| !is_null(v))
        .map(|(a, _)| *a)
        .collect();
    if sources.len() > 1 {
        errs.push(
            Diagnostic::error(
                "More than one content source",
                format!(
                    "Set at most one of {}; {} are set.",
                    CONTENT_SOURCES.join(", "),
                    sources.join(" and ")
                ),
            )
            .at(AttributePath::attr(sources[1])),
        );
    }
    if sources.is_empty() && is_null(&m.size) && sources_known {
        errs.push(
            Diagnostic::error(
                "An empty volume needs a size",
                "Set `size` (e.g. \"20GiB\"), or one of base_volume, clone_of, source_file, \
                 source_url.",
            )
            .at(AttributePath::attr("size")),
        );
    }
    let upload = sources
        .iter()
        .any(|s| *s == "source_file" || *s == "source_url");
    match &m.sha256 {
        Planned::Known(Some(sum)) => {
            if !upload && sources_known {
                errs.push(
                    Diagnostic::error(
                        "sha256 is for uploads",
                        "`sha256` checks the content of `source_file` or `source_url`; remove it.",
                    )
                    .at(AttributePath::attr("sha256")),
                );
            } else if sum.len() != 64 || !sum.chars().all(|c| c.is_ascii_hexdigit()) {
                errs.push(
                    Diagnostic::error(
                        format!("Invalid sha256 {sum:?}"),
                        "Give the SHA-256 of the image as 64 hexadecimal digits (`sha256sum \
                         FILE` prints it).",
                    )
                    .at(AttributePath::attr("sha256")),
                );
            }
        }
        Planned::Known(None) if upload => errs.push(
            Diagnostic::error(
                "An upload needs its sha256",
                "Set `sha256` to the SHA-256 of the image (`sha256sum FILE` prints it): rack \
                 checks the content against it and refuses anything else.",
            )
            .at(AttributePath::attr("sha256")),
        ),
        _ => {}
    }
    if let Some(url) = m.source_url.value()
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        errs.push(
            Diagnostic::error(
                format!("Invalid source_url {url:?}"),
                "Use an http:// or https:// URL.",
            )
            .at(AttributePath::attr("source_url")),
        );
    }
    for (attr, value) in [("base_volume", &m.base_volume), ("clone_of", &m.clone_of)] {
        if let Some(r) = value.value()
            && let Err(e) = r.parse::<VolumeRef>()
        {
            errs.push(
                Diagnostic::error(format!("Invalid {attr}"), e.to_string())
                    .at(AttributePath::attr(attr)),
            );
        }
    }
    if m.base_volume.value().is_some() && m.format.value().is_some_and(|f| f == "raw") {
        errs.push(
            Diagnostic::error(
                "A volume on a base volume is a qcow2 overlay",
                "Set `format = \"qcow2\"` (the default), or use clone_of for a raw full copy.",
            )
            .at(AttributePath::attr("format")),
        );
    }
    errs
}

/// The planned state as core's model (all of it known).
fn spec_of(m: &VolumeModel) -> Result<VolumeSpec, Vec<Diagnostic>> {
    let errs = check_config(m);
    if !errs.is_empty() {
        return Err(errs);
    }
    let format = match m.format.value().map_or("qcow2", String::as_str).parse() {
        Ok(f) => f,
        Err(e) => {
            return Err(vec![
                Diagnostic::error("Invalid format", format!("{e}."))
                    .at(AttributePath::attr("format")),
            ]);
        }
    };
    let reference = |v: &Text| v.value().and_then(|r| r.parse::<VolumeRef>().ok());
    let upload = |location| {
        VolumeContent::Upload(UploadSource {
            location,
            sha256: m.sha256.value().cloned().unwrap_or_default(),
        })
    };
    let content = if let Some(r) = reference(&m.base_volume) {
        VolumeContent::Backing(r)
    } else if let Some(r) = reference(&m.clone_of) {
        VolumeContent::CloneOf(r)
    } else if let Some(f) = m.source_file.value() {
        upload(SourceLocation::File(f.into()))
    } else if let Some(u) = m.source_url.value() {
        upload(SourceLocation::Url(u.clone()))
    } else {
        VolumeContent::Empty
    };
    let capacity = m
        .size
        .value()
        .map(|s| parse_size(s))
        .transpose()
        .map_err(|d| vec![d])?;
    let spec = VolumeSpec {
        pool: m.pool.value().cloned().unwrap_or_default(),
        name: m.name.value().cloned().unwrap_or_default(),
        format,
        capacity,
        content,
    };
    spec.validate().map_err(|e| {
        let attr = match &e {
            VolumeSpecError::Name(_) => "name",
            VolumeSpecError::Pool(_) => "pool",
            VolumeSpecError::BackingNeedsQcow2 => "format",
            VolumeSpecError::Sha256(_) => "sha256",
            VolumeSpecError::Url(_) => "source_url",
            VolumeSpecError::File => "source_file",
            _ => "size",
        };
        vec![
            Diagnostic::error(
                "Invalid volume",
                format!("{e}. Fix `{attr}` in the configuration."),
            )
            .at(AttributePath::attr(attr)),
        ]
    })?;
    Ok(spec)
}

/// What create and update start from: the model and core's model of the plan, and the
/// hypervisor it names.
fn planned_volume(
    ctx: &Context,
    planned: &Value,
) -> Result<(VolumeModel, VolumeSpec, NamedHypervisor), Diagnostics> {
    let m: VolumeModel = typed::from_value(planned)?;
    let (spec, hv) = apply_target(ctx, m.hypervisor(), spec_of(&m), "volume")?;
    Ok((m, spec, hv))
}

/// The import ID of a volume: `<hypervisor>/<pool>/<name>`.
pub fn volume_id(hv: &str, pool: &str, name: &str) -> String {
    format!("{hv}/{pool}/{name}")
}

/// The identity of a volume (also for the list resource).
pub(crate) fn identity(hv: &str, pool: &str, name: &str) -> Value {
    Value::object([
        ("hypervisor", Value::from(hv)),
        ("pool", Value::from(pool)),
        ("name", Value::from(name)),
    ])
}

/// Whether two references name the same volume, seen from pool `own`.
fn same_ref(a: &str, b: &str, own: &str) -> bool {
    match (a.parse::<VolumeRef>(), b.parse::<VolumeRef>()) {
        (Ok(x), Ok(y)) => x.pool_or(own) == y.pool_or(own) && x.name == y.name,
        _ => a == b,
    }
}

/// The reference to the volume whose file is `path`, through the pools' directories:
/// `name` in the volume's own pool, `pool/name` in another; `None` if no pool holds it.
async fn reference_of(hv: &Hypervisor, own: &str, path: &str) -> Option<String> {
    let (dir, file) = path.rsplit_once('/')?;
    let pools = hv.pools().await.ok()?;
    let pool = pools.iter().find(
        |p| matches!(&p.spec, Ok(s) if matches!(&s.kind, PoolKind::Dir { path } if path == dir)),
    )?;
    Some(if pool.name == own {
        file.to_string()
    } else {
        format!("{}/{file}", pool.name)
    })
}

/// The state of a volume for the list resource, as import gives it; `None` when it cannot
/// be written.
pub(crate) async fn listed_state(hv: &NamedHypervisor, now: &VolumeState) -> Option<Value> {
    state_of(hv, now, None).await.ok()
}

/// The state for a volume as libvirt holds it, keeping `prior`'s spelling of the size and
/// base, and its content attributes (which libvirt cannot tell, but the base).
async fn state_of(
    hv: &NamedHypervisor,
    now: &VolumeState,
    prior: Option<&VolumeModel>,
) -> Result<Value, Diagnostic> {
    let size = match prior.and_then(|p| p.size.value()) {
        Some(s) if parse_size(s).ok() == Some(now.capacity) => s.clone(),
        _ => ByteSize(now.capacity).to_string(),
    };
    let keep =
        |attr: fn(&VolumeModel) -> &Text| prior.map_or(Planned::Known(None), |p| attr(p).clone());
    let base_volume = match &now.backing {
        None => Planned::Known(None),
        Some(b) => match reference_of(&hv.handle, &now.pool, &b.path).await {
            Some(found) => Planned::Known(Some(match prior.and_then(|p| p.base_volume.value()) {
                Some(p) if same_ref(p, &found, &now.pool) => p.clone(),
                _ => found,
            })),
            // Outside every pool rack can see: keep what was configured.
            None => keep(|p| &p.base_volume),
        },
    };
    let model = VolumeModel {
        hypervisor: Some(hv.name.clone()).into(),
        pool: Some(now.pool.clone()).into(),
        name: Some(now.name.clone()).into(),
        format: Some(now.format.clone().unwrap_or_else(|| "raw".to_string())).into(),
        size: Some(size).into(),
        base_volume,
        clone_of: keep(|p| &p.clone_of),
        source_file: keep(|p| &p.source_file),
        source_url: keep(|p| &p.source_url),
        sha256: keep(|p| &p.sha256),
        capacity: Some(now.capacity).into(),
        allocation: Some(now.allocation).into(),
        path: Some(now.path.clone()).into(),
        id: Some(volume_id(&hv.name, &now.pool, &now.name)).into(),
    };
    typed::to_value(&model, &Volume.schema().value_type())
}

/// The result of an operation that found volume `now`: its state (see [`state_of`]) and
/// identity.
async fn result(
    hv: &NamedHypervisor,
    now: &VolumeState,
    prior: Option<&VolumeModel>,
) -> Result<StateResult, Diagnostics> {
    Ok(StateResult {
        state: state_of(hv, now, prior).await?,
        identity: Some(identity(&hv.name, &now.pool, &now.name)),
        ..StateResult::default()
    })
}

/// Creates the volume `spec` describes, planned as `m`; a failure says `hint`.
async fn make(
    hv: &NamedHypervisor,
    spec: &VolumeSpec,
    m: &VolumeModel,
    hint: &str,
) -> Result<StateResult, Diagnostics> {
    let now = hv
        .handle
        .create_volume(spec)
        .await
        .map_err(|e| volume_diag(&e, hint))?;
    result(hv, &now, Some(m)).await
}

/// Grows the volume to the planned size, or, when the plan keeps the size as it is, reads
/// it afresh; a volume that is gone is [`LibvirtError::NotFound`].
async fn resize(hv: &Hypervisor, spec: &VolumeSpec) -> Result<VolumeState, LibvirtError> {
    let (pool, name) = (&spec.pool, &spec.name);
    match spec.capacity {
        Some(capacity) => hv.resize_volume(pool, name, capacity).await,
        None => hv
            .volume_fresh(pool, name)
            .await?
            .ok_or_else(|| LibvirtError::NotFound {
                uri: hv.uri().to_string(),
                kind: ObjectKind::Volume,
                name: format!("{pool}/{name}"),
            }),
    }
}

/// The plan rules for a change of an existing volume, `was` its prior state: content
/// changes replace it or adopt it, the size only grows, and what libvirt reports anew is
/// unknown.
fn plan_change(m: &mut VolumeModel, was: &VolumeModel, plan: &mut PlannedChange) {
    // Content: a change from one value to another replaces; values set where none
    // were recorded adopt the volume.
    let own = m.pool.value().cloned().unwrap_or_default();
    let recorded = was.content().iter().any(|(_, v)| !is_null(v));
    for ((attr, before), (_, after)) in was.content().into_iter().zip(m.content()) {
        let same = match (before, after) {
            (Planned::Known(Some(a)), Planned::Known(Some(b))) if attr == "sha256" => {
                a.eq_ignore_ascii_case(b)
            }
            (Planned::Known(Some(a)), Planned::Known(Some(b)))
                if attr == "base_volume" || attr == "clone_of" =>
            {
                same_ref(a, b, &own)
            }
            _ => before == after,
        };
        let adopted = is_null(before) && !recorded && attr != "base_volume";
        if !same && !adopted && !after.is_unknown() {
            plan.requires_replace.push(AttributePath::attr(attr));
        }
    }
    if !plan.requires_replace.is_empty() {
        m.path = Planned::Unknown;
        m.allocation = Planned::Unknown;
        if m.size.is_unknown() {
            m.capacity = Planned::Unknown;
        }
        return;
    }
    // In place: the size may only grow; an omitted size stays as it is.
    if m.size.is_unknown() {
        m.size = was.size.clone();
        m.capacity = was.capacity.clone();
    }
    if let (Some(&have), Some(Ok(want))) =
        (was.capacity.value(), m.size.value().map(|s| parse_size(s)))
        && want < have
    {
        plan.diags.push(
            Diagnostic::error(
                format!(
                    "Shrinking volume {own}/{} is refused",
                    m.name.value().map_or("", String::as_str)
                ),
                format!(
                    "The volume is {} ({have} bytes); size asks for {} ({want} bytes). \
                     Shrinking would cut off the end of the guest's disk. Keep size at \
                     least {}, or replace the volume (`terraform apply -replace`).",
                    ByteSize(have),
                    ByteSize(want),
                    ByteSize(have)
                ),
            )
            .at(AttributePath::attr("size")),
        );
    }
    if *m != *was {
        m.allocation = Planned::Unknown;
    }
}

/// A libvirt failure as a diagnostic, at the attribute it is about when there is one.
fn volume_diag(e: &LibvirtError, hint: &str) -> Diagnostic {
    use rack_core::libvirt::UploadError as U;
    let d = libvirt_diag(e, hint);
    let attr = match e {
        LibvirtError::Shrink { .. } => Some("size"),
        LibvirtError::Upload { source, .. } => match &**source {
            U::Checksum { .. } => Some("sha256"),
            U::Format { .. } => Some("format"),
            U::TooLarge { .. } => Some("size"),
            U::File { .. } | U::Changed(_) => Some("source_file"),
            U::Download { .. } | U::Status { .. } => Some("source_url"),
            _ => None,
        },
        LibvirtError::VolumeSpec { source, .. } => match source {
            VolumeSpecError::SmallerThanSource { .. } => Some("size"),
            VolumeSpecError::NotForPool { .. } => Some("format"),
            _ => None,
        },
        _ => None,
    };
    match attr {
        Some(a) => d.at(AttributePath::attr(a)),
        None => d,
    }
}

#[async_trait]
impl Resource for Volume {
    fn type_name(&self) -> &'static str {
        "rack_volume"
    }

    fn schema(&self) -> Schema {
        let replaces = "Changing it replaces the volume.";
        Schema::new(
            Block::new(
                "A storage volume in a `rack_storage_pool` (or any pool on the hypervisor). \
                 Its content, chosen at creation, is one of:\n\n\
                 - nothing: zeros, `size` required;\n\
                 - `base_volume`: a qcow2 overlay whose unwritten blocks read from the base \
                   volume; made in milliseconds and taking almost no space, the fast default \
                   when many guests share one image. The base must not change while overlays \
                   use it;\n\
                 - `clone_of`: a full, independent copy made by the hypervisor;\n\
                 - `source_file` or `source_url`: an image streamed to the hypervisor sparse \
                   (zero ranges are not sent), checked against the required `sha256`. A local \
                   file is checked before anything is created; a download while it streams, \
                   and the volume is deleted if the sum differs. The image's format must be \
                   `format`.\n\n\
                 `size` grows in place; shrinking is refused at plan time. Any other change \
                 replaces the volume. Setting content attributes on a volume that has none \
                 recorded (imported, or created empty) adopts it as it is; use \
                 `terraform apply -replace` to recreate it from the new content.\n\n\
                 Drift: a volume deleted out of band is created again; one resized out of \
                 band shows as a change of `size`; an overlay rebased out of band as a change \
                 of `base_volume`.\n\n\
                 Create finds an empty volume or an overlay of that name that already exists \
                 exactly as planned (format, size, base volume; e.g. made by an apply whose \
                 request timed out) and takes it over. A volume that differs, and any \
                 volume of that name where a copy (`clone_of`) or an image (`source_file`, \
                 `source_url`) is planned, is refused and left as it is: rack cannot tell \
                 its content from someone else's. Remove it, or import it.",
            )
            .attributes([
                hypervisor_attribute("volume"),
                Attribute::string("pool")
                    .required()
                    .requires_replace()
                    .description("The storage pool's name."),
                Attribute::string("name")
                    .required()
                    .requires_replace()
                    .description("The volume's name in the pool (in a dir pool, its file name)."),
                Attribute::string("format")
                    .optional()
                    .computed()
                    .default(Value::from("qcow2"))
                    .validator(one_of(FORMATS.iter().copied()))
                    .requires_replace()
                    .description(
                        "`qcow2` (default: sparse, copy-on-write, needed for `base_volume`) or \
                         `raw`. Volumes in logical pools are `raw`.",
                    ),
                Attribute::string("size")
                    .optional()
                    .computed()
                    .validator(check(
                        "A size in bytes, or with a unit: `30GiB`, `512MiB`, `1G` (K, M, G, T \
                         are powers of 1024), `10GB` (powers of 1000).",
                        "Invalid size",
                        |v| match v.as_str() {
                            Some(s) => s.parse::<ByteSize>().map(|_| ()).map_err(|e| e.to_string()),
                            None => Ok(()),
                        },
                    ))
                    .description(
                        "The size the guest sees. Required for an empty volume; otherwise the \
                         base's, the copied volume's or the image's size when omitted, and at \
                         least that when set. Grows in place; a smaller size is refused.",
                    ),
                Attribute::string("base_volume")
                    .optional()
                    .description(format!(
                        "Make a qcow2 overlay on this volume: `name` in the same pool, or \
                     `pool/name`. {replaces}"
                    )),
                Attribute::string("clone_of")
                    .optional()
                    .description(format!(
                        "Make a full copy of this volume (`name` or `pool/name`), done by the \
                     hypervisor. {replaces}"
                    )),
                Attribute::string("source_file")
                    .optional()
                    .description(format!(
                        "Fill the volume from this image file on the machine running Terraform \
                     (relative to the working directory). Needs `sha256`. {replaces}"
                    )),
                Attribute::string("source_url")
                    .optional()
                    .description(format!(
                        "Fill the volume from this http:// or https:// URL, fetched by the machine \
                     running Terraform. Needs `sha256`. {replaces}"
                    )),
                Attribute::string("sha256").optional().description(format!(
                    "The SHA-256 of the image in `source_file` or `source_url`, 64 hexadecimal \
                     digits. A different content is refused, naming both sums. {replaces}"
                )),
                Attribute::number("capacity")
                    .computed()
                    .description("The size in bytes."),
                Attribute::number("allocation")
                    .computed()
                    .description("Bytes the volume takes on its storage."),
                Attribute::string("path")
                    .computed()
                    .use_state_for_unknown()
                    .description("The volume's path on the hypervisor (for a disk's `source`)."),
                import_id_attribute("<pool>/<name>"),
            ]),
        )
    }

    fn identity_schema(&self) -> Option<IdentitySchema> {
        identity_schema(&[
            ("pool", "The storage pool's name."),
            ("name", "The volume's name."),
        ])
    }

    async fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        match typed::from_value::<VolumeModel>(config) {
            Ok(m) => {
                for e in check_config(&m) {
                    diags.push(e);
                }
            }
            Err(d) => diags.push(d),
        }
    }

    async fn modify_plan(&self, ctx: &Context, req: PlanRequest<'_>, plan: &mut PlannedChange) {
        let prior = req.prior;
        plan_placement(ctx, &mut plan.planned, &["pool", "name"]);
        let mut m: VolumeModel = match typed::from_value(&plan.planned) {
            Ok(m) => m,
            Err(d) => {
                plan.diags.push(d);
                return;
            }
        };
        // The capacity follows a known size.
        if let Some(Ok(n)) = m.size.value().map(|s| parse_size(s)) {
            m.capacity = Some(n).into();
        }
        if !prior.is_null() {
            replace_on_hypervisor_change(prior, plan);
            match typed::from_value(prior) {
                Ok(was) => plan_change(&mut m, &was, plan),
                Err(d) => plan.diags.push(d),
            }
        }
        match typed::to_value(&m, &self.schema().value_type()) {
            Ok(planned) => plan.planned = planned,
            Err(d) => plan.diags.push(d),
        }
    }

    async fn create(&self, ctx: &Context, req: ApplyRequest) -> StateResult {
        let planned = req.planned;
        let created = async {
            let (m, spec, hv) = planned_volume(ctx, &planned)?;
            let hint = format!(
                "Creating volume {}/{} on hypervisor {:?}.",
                spec.pool, spec.name, hv.name
            );
            make(&hv, &spec, &m, &hint).await
        };
        StateResult::or_failed(created.await, Value::Null)
    }

    async fn read(&self, ctx: &Context, req: ReadRequest) -> StateResult {
        let state = req.state;
        let refreshed = async {
            let m: VolumeModel = typed::from_value(&state)?;
            let (Some(pool), Some(name)) = (m.pool.value(), m.name.value()) else {
                return Err(incomplete(Vec::new(), "volume"));
            };
            let hv = hypervisor(ctx, m.hypervisor())?;
            match hv.handle.volume(pool, name).await {
                Ok(Some(now)) => result(&hv, &now, Some(&m)).await,
                // Gone, or its pool is gone and the volume with it.
                Ok(None) | Err(LibvirtError::NotFound { .. }) => Ok(StateResult::default()),
                Err(e) => Err(volume_diag(
                    &e,
                    &format!("Reading volume {pool}/{name} on hypervisor {:?}.", hv.name),
                )
                .into()),
            }
        };
        let refreshed = refreshed.await;
        StateResult::or_failed(refreshed, state)
    }

    async fn update(&self, ctx: &Context, req: ApplyRequest) -> StateResult {
        let (prior, planned) = (req.prior, req.planned);
        let updated = async {
            let (m, spec, hv) = planned_volume(ctx, &planned)?;
            let hint = format!(
                "Updating volume {}/{} on hypervisor {:?}.",
                spec.pool, spec.name, hv.name
            );
            match resize(&hv.handle, &spec).await {
                Ok(now) => result(&hv, &now, Some(&m)).await,
                // Deleted by someone else since the refresh: make it again; if that fails,
                // the volume is gone.
                Err(LibvirtError::NotFound { .. }) => Ok(StateResult::or_failed(
                    make(&hv, &spec, &m, &hint).await,
                    Value::Null,
                )),
                Err(e) => Err(volume_diag(&e, &hint).into()),
            }
        };
        StateResult::or_failed(updated.await, prior)
    }

    async fn delete(&self, ctx: &Context, req: DeleteRequest) -> Diagnostics {
        let deleted = async {
            let m: VolumeModel = typed::from_value(&req.prior)?;
            let (Some(pool), Some(name)) = (m.pool.value(), m.name.value()) else {
                return Ok(());
            };
            let hv = hypervisor(ctx, m.hypervisor())?;
            hv.handle.delete_volume(pool, name).await.map_err(|e| {
                volume_diag(
                    &e,
                    &format!(
                        "Deleting volume {pool}/{name} on hypervisor {:?}. Check that no guest \
                         uses it and no overlay is based on it.",
                        hv.name
                    ),
                )
            })?;
            Ok::<(), Diagnostic>(())
        };
        match deleted.await {
            Ok(()) => Diagnostics::new(),
            Err(d) => d.into(),
        }
    }

    async fn import(&self, ctx: &Context, req: ImportRequest) -> StateResult {
        let imported = async {
            let (hv, names) = import_target(ctx, &req, &["pool", "name"])?;
            let mut names = names.into_iter();
            let pool = names.next().unwrap_or_default();
            let name = names.next().unwrap_or_default();
            let now = hv
                .handle
                .volume_fresh(&pool, &name)
                .await
                .map_err(|e| volume_diag(&e, &format!("Reading volume {pool}/{name} for import.")))?
                .ok_or_else(|| {
                    Diagnostic::error(
                        format!("No volume {pool}/{name} on hypervisor {:?}", hv.name),
                        "Check the pool and volume names (`virsh vol-list POOL` on the \
                         hypervisor lists them) and the hypervisor.",
                    )
                })?;
            result(&hv, &now, None).await
        };
        StateResult::or_failed(imported.await, Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: Vec<(&str, Value)>) -> Value {
        let mut base = vec![
            ("pool", Value::from("images")),
            ("name", Value::from("vm1.qcow2")),
            ("format", Value::from("qcow2")),
            ("size", Value::from("20GiB")),
            ("base_volume", Value::Null),
            ("clone_of", Value::Null),
            ("source_file", Value::Null),
            ("source_url", Value::Null),
            ("sha256", Value::Null),
        ];
        for attr in ["hypervisor", "capacity", "allocation", "path", "id"] {
            base.push((attr, Value::Null));
        }
        for (k, v) in pairs {
            base.retain(|(n, _)| *n != k);
            base.push((k, v));
        }
        Value::object(base)
    }

    /// A configuration as core's volume model.
    fn spec_of_value(v: &Value) -> Result<VolumeSpec, Vec<Diagnostic>> {
        spec_of(&typed::from_value(v).map_err(|d| vec![d])?)
    }

    fn paths(errs: &[Diagnostic]) -> Vec<String> {
        errs.iter()
            .filter_map(|d| d.attribute.as_ref().map(ToString::to_string))
            .collect()
    }

    const SUM: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    #[test]
    fn configuration_becomes_the_model() {
        let spec = spec_of_value(&config(vec![])).unwrap();
        assert_eq!(spec.capacity, Some(20 << 30));
        assert_eq!(spec.content, VolumeContent::Empty);
        let spec = spec_of_value(&config(vec![
            ("size", Value::Null),
            ("base_volume", Value::from("golden/debian.qcow2")),
        ]))
        .unwrap();
        assert_eq!(spec.capacity, None);
        assert!(
            matches!(spec.content, VolumeContent::Backing(ref r) if r.pool.as_deref() == Some("golden"))
        );
        let spec = spec_of_value(&config(vec![
            ("format", Value::from("raw")),
            ("source_url", Value::from("https://images.example/d.raw")),
            ("sha256", Value::from(SUM)),
        ]))
        .unwrap();
        assert!(matches!(spec.content, VolumeContent::Upload(_)));
    }

    #[test]
    fn bad_input_points_at_the_attribute() {
        let cases = [
            (config(vec![("size", Value::from("20 gigs"))]), "size"),
            (config(vec![("size", Value::from("0"))]), "size"),
            (config(vec![("size", Value::Null)]), "size"),
            (
                config(vec![
                    ("base_volume", Value::from("a")),
                    ("clone_of", Value::from("b")),
                ]),
                "clone_of",
            ),
            (
                config(vec![("source_file", Value::from("d.qcow2"))]),
                "sha256",
            ),
            (
                config(vec![
                    ("source_file", Value::from("d.qcow2")),
                    ("sha256", Value::from("abc")),
                ]),
                "sha256",
            ),
            (
                config(vec![
                    ("clone_of", Value::from("b")),
                    ("sha256", Value::from(SUM)),
                ]),
                "sha256",
            ),
            (
                config(vec![
                    ("source_url", Value::from("ftp://x/y")),
                    ("sha256", Value::from(SUM)),
                ]),
                "source_url",
            ),
            (
                config(vec![
                    ("format", Value::from("raw")),
                    ("base_volume", Value::from("a")),
                ]),
                "format",
            ),
            (
                config(vec![("base_volume", Value::from("a/b/c"))]),
                "base_volume",
            ),
            (config(vec![("name", Value::from("a/b"))]), "name"),
        ];
        for (c, path) in cases {
            let errs = spec_of_value(&c).unwrap_err();
            assert!(paths(&errs).contains(&path.to_string()), "{path}: {errs:?}");
        }
    }

    #[test]
    fn references_compare_by_meaning() {
        assert!(same_ref("base", "images/base", "images"));
        assert!(!same_ref("base", "golden/base", "images"));
        assert!(same_ref("golden/base", "golden/base", "images"));
    }
}
