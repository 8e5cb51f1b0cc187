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
    Hypervisor, LibvirtError, PoolKind, SourceLocation, UploadSource, VolumeContent, VolumeRef,
    VolumeSpec, VolumeSpecError, VolumeState, check_volume_name, check_volume_pool,
};

use super::shared::{
    apply_target, hypervisor, hypervisor_attribute, identity_schema, import_id_attribute,
    import_target, libvirt_diag, plan_placement, replace_on_hypervisor_change,
};
use crate::framework::attrs::{incomplete, obj_set, str_attr};
use crate::framework::plan::PlannedChange;
use crate::framework::schema::{Attribute, Block, IdentitySchema, Schema};
use crate::framework::validate::{check, one_of};
use crate::framework::{
    ApplyRequest, AttributePath, Context, DeleteRequest, Diagnostic, Diagnostics, ImportRequest,
    PlanRequest, ReadRequest, Resource, StateResult,
};
use crate::protocol::value::{Number, Value};

/// The resource.
#[derive(Debug, Clone, Copy, Default)]
pub struct Volume;

/// The formats, as written in configuration.
pub const FORMATS: &[&str] = &["qcow2", "raw"];

/// The attributes that say what a new volume holds; at most one is set.
pub const CONTENT_SOURCES: &[&str] = &["base_volume", "clone_of", "source_file", "source_url"];

/// Every attribute that describes the content (the sources and the checksum).
const CONTENT_ATTRIBUTES: &[&str] = &[
    "base_volume",
    "clone_of",
    "source_file",
    "source_url",
    "sha256",
];

fn bytes(n: u64) -> Value {
    Value::Number(Number::from(n))
}

fn number(v: Option<&Value>) -> Option<u64> {
    v.and_then(Value::as_number).and_then(Number::to_u64)
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
fn check_config(v: &Value) -> Vec<Diagnostic> {
    let mut errs = Vec::new();
    let names = [
        (
            "name",
            check_volume_name as fn(&str) -> Result<(), VolumeSpecError>,
        ),
        ("pool", check_volume_pool),
    ];
    for (attr, check) in names {
        if let Some(text) = str_attr(v, attr)
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
    if let Some(size) = str_attr(v, "size") {
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
    let sources: Vec<&str> = CONTENT_SOURCES
        .iter()
        .copied()
        .filter(|a| v.attr(a).is_some_and(|x| !x.is_null()))
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
    let known = |a: &str| v.attr(a).is_some_and(|x| !x.is_unknown());
    if sources.is_empty()
        && known("size")
        && v.attr("size").is_some_and(Value::is_null)
        && CONTENT_SOURCES.iter().all(|a| known(a))
    {
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
    match v.attr("sha256") {
        Some(Value::String(sum)) => {
            if !upload && CONTENT_SOURCES.iter().all(|a| known(a)) {
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
        Some(Value::Null) | None if upload => errs.push(
            Diagnostic::error(
                "An upload needs its sha256",
                "Set `sha256` to the SHA-256 of the image (`sha256sum FILE` prints it): rack \
                 checks the content against it and refuses anything else.",
            )
            .at(AttributePath::attr("sha256")),
        ),
        _ => {}
    }
    if let Some(url) = str_attr(v, "source_url")
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
    for attr in ["base_volume", "clone_of"] {
        if let Some(r) = str_attr(v, attr)
            && let Err(e) = r.parse::<VolumeRef>()
        {
            errs.push(
                Diagnostic::error(format!("Invalid {attr}"), e.to_string())
                    .at(AttributePath::attr(attr)),
            );
        }
    }
    if str_attr(v, "base_volume").is_some() && str_attr(v, "format") == Some("raw") {
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
fn spec_of(v: &Value) -> Result<VolumeSpec, Vec<Diagnostic>> {
    let errs = check_config(v);
    if !errs.is_empty() {
        return Err(errs);
    }
    let format = match str_attr(v, "format").unwrap_or("qcow2").parse() {
        Ok(f) => f,
        Err(e) => {
            return Err(vec![
                Diagnostic::error("Invalid format", format!("{e}."))
                    .at(AttributePath::attr("format")),
            ]);
        }
    };
    let reference = |attr: &str| str_attr(v, attr).and_then(|r| r.parse::<VolumeRef>().ok());
    let sha256 = str_attr(v, "sha256").unwrap_or_default().to_string();
    let content = if let Some(r) = reference("base_volume") {
        VolumeContent::Backing(r)
    } else if let Some(r) = reference("clone_of") {
        VolumeContent::CloneOf(r)
    } else if let Some(f) = str_attr(v, "source_file") {
        VolumeContent::Upload(UploadSource {
            location: SourceLocation::File(f.into()),
            sha256,
        })
    } else if let Some(u) = str_attr(v, "source_url") {
        VolumeContent::Upload(UploadSource {
            location: SourceLocation::Url(u.to_string()),
            sha256,
        })
    } else {
        VolumeContent::Empty
    };
    let capacity = match str_attr(v, "size") {
        Some(s) => Some(parse_size(s).map_err(|d| vec![d])?),
        None => None,
    };
    let spec = VolumeSpec {
        pool: str_attr(v, "pool").unwrap_or_default().to_string(),
        name: str_attr(v, "name").unwrap_or_default().to_string(),
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

fn volume_id(hv: &str, pool: &str, name: &str) -> String {
    format!("{hv}/{pool}/{name}")
}

fn identity(hv: &str, pool: &str, name: &str) -> Value {
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

/// The state for a volume as libvirt holds it, keeping `prior`'s spelling of the size and
/// base, and its content attributes (which libvirt cannot tell, but the base).
async fn state_of(hv_name: &str, hv: &Hypervisor, now: &VolumeState, prior: &Value) -> Value {
    let size = match str_attr(prior, "size") {
        Some(s) if parse_size(s).ok() == Some(now.capacity) => Value::from(s),
        _ => Value::from(ByteSize(now.capacity).to_string()),
    };
    let base = match &now.backing {
        None => Value::Null,
        Some(b) => match reference_of(hv, &now.pool, &b.path).await {
            Some(found) => match str_attr(prior, "base_volume") {
                Some(p) if same_ref(p, &found, &now.pool) => Value::from(p),
                _ => Value::from(found),
            },
            // Outside every pool rack can see: keep what was configured.
            None => prior.attr("base_volume").cloned().unwrap_or(Value::Null),
        },
    };
    let keep = |attr: &str| prior.attr(attr).cloned().unwrap_or(Value::Null);
    let format = now.format.clone().unwrap_or_else(|| "raw".to_string());
    Value::object([
        ("id", Value::from(volume_id(hv_name, &now.pool, &now.name))),
        ("hypervisor", Value::from(hv_name)),
        ("pool", Value::from(now.pool.as_str())),
        ("name", Value::from(now.name.as_str())),
        ("format", Value::from(format)),
        ("size", size),
        ("capacity", bytes(now.capacity)),
        ("allocation", bytes(now.allocation)),
        ("path", Value::from(now.path.as_str())),
        ("base_volume", base),
        ("clone_of", keep("clone_of")),
        ("source_file", keep("source_file")),
        ("source_url", keep("source_url")),
        ("sha256", keep("sha256")),
    ])
}

async fn result(hv_name: &str, hv: &Hypervisor, now: &VolumeState, prior: &Value) -> StateResult {
    StateResult {
        state: state_of(hv_name, hv, now, prior).await,
        identity: Some(identity(hv_name, &now.pool, &now.name)),
        ..StateResult::default()
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
        for e in check_config(config) {
            diags.push(e);
        }
    }

    async fn modify_plan(&self, ctx: &Context, req: PlanRequest<'_>, plan: &mut PlannedChange) {
        let prior = req.prior;
        plan_placement(ctx, &mut plan.planned, &["pool", "name"]);
        // The capacity follows a known size.
        if let Some(Ok(n)) = str_attr(&plan.planned, "size").map(parse_size) {
            obj_set(&mut plan.planned, "capacity", bytes(n));
        }
        if prior.is_null() {
            return;
        }
        replace_on_hypervisor_change(prior, plan);
        // Content: a change from one value to another replaces; values set where none
        // were recorded adopt the volume.
        let own = str_attr(&plan.planned, "pool")
            .unwrap_or_default()
            .to_string();
        let recorded = CONTENT_ATTRIBUTES
            .iter()
            .any(|a| prior.attr(a).is_some_and(|v| !v.is_null()));
        for attr in CONTENT_ATTRIBUTES {
            let (Some(was), Some(now)) = (prior.attr(attr), plan.planned.attr(attr)) else {
                continue;
            };
            let same = match (was.as_str(), now.as_str()) {
                (Some(a), Some(b)) if *attr == "sha256" => a.eq_ignore_ascii_case(b),
                (Some(a), Some(b)) if *attr == "base_volume" || *attr == "clone_of" => {
                    same_ref(a, b, &own)
                }
                _ => was == now,
            };
            let adopted = was.is_null() && !recorded && *attr != "base_volume";
            if !same && !adopted && !now.is_unknown() {
                plan.requires_replace.push(AttributePath::attr(*attr));
            }
        }
        let replaced = !plan.requires_replace.is_empty();
        if replaced {
            for attr in ["path", "allocation"] {
                obj_set(&mut plan.planned, attr, Value::Unknown);
            }
            if plan.planned.attr("size").is_some_and(Value::is_unknown) {
                obj_set(&mut plan.planned, "capacity", Value::Unknown);
            }
            return;
        }
        // In place: the size may only grow; an omitted size stays as it is.
        if plan.planned.attr("size").is_some_and(Value::is_unknown) {
            for attr in ["size", "capacity"] {
                if let Some(v) = prior.attr(attr) {
                    obj_set(&mut plan.planned, attr, v.clone());
                }
            }
        }
        if let (Some(was), Some(Ok(want))) = (
            number(prior.attr("capacity")),
            str_attr(&plan.planned, "size").map(parse_size),
        ) && want < was
        {
            plan.diags.push(
                Diagnostic::error(
                    format!(
                        "Shrinking volume {own}/{} is refused",
                        str_attr(&plan.planned, "name").unwrap_or_default()
                    ),
                    format!(
                        "The volume is {} ({was} bytes); size asks for {} ({want} bytes). \
                         Shrinking would cut off the end of the guest's disk. Keep size at \
                         least {}, or replace the volume (`terraform apply -replace`).",
                        ByteSize(was),
                        ByteSize(want),
                        ByteSize(was)
                    ),
                )
                .at(AttributePath::attr("size")),
            );
        }
        if plan.planned != *prior {
            obj_set(&mut plan.planned, "allocation", Value::Unknown);
        }
    }

    async fn create(&self, ctx: &Context, req: ApplyRequest) -> StateResult {
        let planned = req.planned;
        let (spec, hv) = match apply_target(
            ctx,
            str_attr(&planned, "hypervisor"),
            spec_of(&planned),
            "volume",
        ) {
            Ok(t) => t,
            Err(d) => return StateResult::failed(Value::Null, d),
        };
        match hv.handle.create_volume(&spec).await {
            Ok(now) => result(&hv.name, &hv.handle, &now, &planned).await,
            Err(e) => StateResult::failed(
                Value::Null,
                volume_diag(
                    &e,
                    &format!(
                        "Creating volume {}/{} on hypervisor {:?}.",
                        spec.pool, spec.name, hv.name
                    ),
                ),
            ),
        }
    }

    async fn read(&self, ctx: &Context, req: ReadRequest) -> StateResult {
        let state = req.state;
        let (Some(pool), Some(name)) = (str_attr(&state, "pool"), str_attr(&state, "name")) else {
            return StateResult::failed(state.clone(), incomplete(Vec::new(), "volume"));
        };
        let hv = match hypervisor(ctx, str_attr(&state, "hypervisor")) {
            Ok(h) => h,
            Err(d) => return StateResult::failed(state, d),
        };
        match hv.handle.volume(pool, name).await {
            Ok(Some(now)) => result(&hv.name, &hv.handle, &now, &state).await,
            Ok(None) => StateResult::default(),
            // The pool is gone: so is the volume.
            Err(LibvirtError::NotFound { .. }) => StateResult::default(),
            Err(e) => {
                let d = volume_diag(
                    &e,
                    &format!("Reading volume {pool}/{name} on hypervisor {:?}.", hv.name),
                );
                StateResult::failed(state, d)
            }
        }
    }

    async fn update(&self, ctx: &Context, req: ApplyRequest) -> StateResult {
        let (prior, planned) = (req.prior, req.planned);
        let (spec, hv) = match apply_target(
            ctx,
            str_attr(&planned, "hypervisor"),
            spec_of(&planned),
            "volume",
        ) {
            Ok(t) => t,
            Err(d) => return StateResult::failed(prior, d),
        };
        let hint = format!(
            "Updating volume {}/{} on hypervisor {:?}.",
            spec.pool, spec.name, hv.name
        );
        let resized = match spec.capacity {
            Some(capacity) => {
                hv.handle
                    .resize_volume(&spec.pool, &spec.name, capacity)
                    .await
            }
            None => match hv.handle.volume_fresh(&spec.pool, &spec.name).await {
                Ok(Some(v)) => Ok(v),
                Ok(None) => Err(LibvirtError::NotFound {
                    uri: hv.handle.uri().to_string(),
                    kind: rack_core::libvirt::ObjectKind::Volume,
                    name: format!("{}/{}", spec.pool, spec.name),
                }),
                Err(e) => Err(e),
            },
        };
        match resized {
            Ok(now) => result(&hv.name, &hv.handle, &now, &planned).await,
            // Deleted by someone else since the refresh: make it again.
            Err(LibvirtError::NotFound { .. }) => match hv.handle.create_volume(&spec).await {
                Ok(now) => result(&hv.name, &hv.handle, &now, &planned).await,
                Err(e) => StateResult::failed(Value::Null, volume_diag(&e, &hint)),
            },
            Err(e) => StateResult::failed(prior, volume_diag(&e, &hint)),
        }
    }

    async fn delete(&self, ctx: &Context, req: DeleteRequest) -> Diagnostics {
        let prior = req.prior;
        let mut diags = Diagnostics::new();
        let (Some(pool), Some(name)) = (str_attr(&prior, "pool"), str_attr(&prior, "name")) else {
            return diags;
        };
        let hv = match hypervisor(ctx, str_attr(&prior, "hypervisor")) {
            Ok(h) => h,
            Err(d) => {
                diags.push(d);
                return diags;
            }
        };
        if let Err(e) = hv.handle.delete_volume(pool, name).await {
            diags.push(volume_diag(
                &e,
                &format!(
                    "Deleting volume {pool}/{name} on hypervisor {:?}. Check that no guest \
                     uses it and no overlay is based on it.",
                    hv.name
                ),
            ));
        }
        diags
    }

    async fn import(&self, ctx: &Context, req: ImportRequest) -> StateResult {
        let (hv, pool, name) = match import_target(ctx, &req, &["pool", "name"]) {
            Ok((hv, names)) => {
                let mut names = names.into_iter();
                let pool = names.next().unwrap_or_default();
                (hv, pool, names.next().unwrap_or_default())
            }
            Err(d) => return StateResult::failed(Value::Null, d),
        };
        match hv.handle.volume_fresh(&pool, &name).await {
            Ok(Some(now)) => result(&hv.name, &hv.handle, &now, &Value::Null).await,
            Ok(None) => StateResult::failed(
                Value::Null,
                Diagnostic::error(
                    format!("No volume {pool}/{name} on hypervisor {:?}", hv.name),
                    "Check the pool and volume names (`virsh vol-list POOL` on the hypervisor \
                     lists them) and the hypervisor.",
                ),
            ),
            Err(e) => StateResult::failed(
                Value::Null,
                volume_diag(&e, &format!("Reading volume {pool}/{name} for import.")),
            ),
        }
    }
}

/// What the `rack_volume` data source and the resource share: a volume as read-only
/// attributes.
pub fn data_value(hv_name: &str, now: &VolumeState) -> Value {
    Value::object([
        ("id", Value::from(volume_id(hv_name, &now.pool, &now.name))),
        ("hypervisor", Value::from(hv_name)),
        ("pool", Value::from(now.pool.as_str())),
        ("name", Value::from(now.name.as_str())),
        (
            "format",
            Value::from(now.format.clone().unwrap_or_else(|| "raw".to_string())),
        ),
        ("size", Value::from(ByteSize(now.capacity).to_string())),
        ("capacity", bytes(now.capacity)),
        ("allocation", bytes(now.allocation)),
        ("path", Value::from(now.path.as_str())),
        (
            "backing_file",
            now.backing
                .as_ref()
                .map_or(Value::Null, |b| Value::from(b.path.as_str())),
        ),
    ])
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
        for (k, v) in pairs {
            base.retain(|(n, _)| *n != k);
            base.push((k, v));
        }
        Value::object(base)
    }

    fn paths(errs: &[Diagnostic]) -> Vec<String> {
        errs.iter()
            .filter_map(|d| d.attribute.as_ref().map(ToString::to_string))
            .collect()
    }

    const SUM: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    #[test]
    fn configuration_becomes_the_model() {
        let spec = spec_of(&config(vec![])).unwrap();
        assert_eq!(spec.capacity, Some(20 << 30));
        assert_eq!(spec.content, VolumeContent::Empty);
        let spec = spec_of(&config(vec![
            ("size", Value::Null),
            ("base_volume", Value::from("golden/debian.qcow2")),
        ]))
        .unwrap();
        assert_eq!(spec.capacity, None);
        assert!(
            matches!(spec.content, VolumeContent::Backing(ref r) if r.pool.as_deref() == Some("golden"))
        );
        let spec = spec_of(&config(vec![
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
            let errs = spec_of(&c).unwrap_err();
            assert!(paths(&errs).contains(&path.to_string()), "{path}: {errs:?}");
        }
    }

    #[test]
    fn references_compare_by_meaning() {
        assert!(same_ref("base", "images/base", "images"));
        assert!(!same_ref("base", "golden/base", "images"));
        assert!(same_ref("golden/base", "golden/base", "images"));
    }

    #[test]
    fn data_value_names_the_backing_file() {
        let now = VolumeState {
            pool: "p".into(),
            name: "v".into(),
            key: "/p/v".into(),
            path: "/p/v".into(),
            format: Some("qcow2".into()),
            capacity: 1 << 30,
            allocation: 4096,
            backing: Some(rack_core::libvirt::BackingStore {
                path: "/p/base".into(),
                format: Some("qcow2".into()),
            }),
            xml: String::new(),
        };
        let v = data_value("kvm1", &now);
        assert_eq!(v.attr("size"), Some(&Value::from("1GiB")));
        assert_eq!(v.attr("backing_file"), Some(&Value::from("/p/base")));
        assert_eq!(v.attr("id"), Some(&Value::from("kvm1/p/v")));
    }
}
