//! A volume create is idempotent for volumes whose content rack does not write: an empty
//! volume or an overlay that a create that timed out left (libvirtd carried it out after
//! rack gave up) is adopted when it is defined as planned. A volume of that name holding
//! anything else, and any volume where a copy or an upload is planned, is a conflict and
//! is left as it is: rack cannot tell its content from someone else's.

use crate::start;
use crate::storage::{dir_pool, empty_volume, overlay_on, sha256_prefix, with_content};
use rack_core::libvirt::{
    LibvirtError, ObjectKind, SourceLocation, UploadSource, VolumeContent, VolumeFormat, VolumeSpec,
};
use rack_lab::process::TempDir;
use rack_lab::storage::{qemu_img_run, qemu_io_write};
use std::os::unix::fs::FileExt;
use std::path::Path;

const MIB: u64 = 1 << 20;

/// The volume `name` of pool `p` with `content`.
fn spec(
    name: &str,
    format: VolumeFormat,
    capacity: Option<u64>,
    content: VolumeContent,
) -> VolumeSpec {
    with_content("p", name, format, capacity, content)
}

fn is_exists(e: &LibvirtError, name: &str) -> bool {
    matches!(e, LibvirtError::Exists { kind: ObjectKind::Volume, name: n, .. } if n == name)
}

#[tokio::test]
async fn volume_create_adopts_what_is_planned_and_refuses_anything_else() {
    let (_fixture, hv) = start();
    let root = TempDir::new("rack-adopt").unwrap();
    let dir = root.path().join("pool");
    dir_pool(&hv, "p", &dir).await;

    // Empty: the same create twice adopts; another size or format is a conflict.
    let empty = empty_volume("e.qcow2", VolumeFormat::Qcow2, MIB);
    let first = hv.create_volume(&empty).await.unwrap();
    let again = hv.create_volume(&empty).await.unwrap();
    assert_eq!(first.key, again.key);
    let bigger = empty_volume("e.qcow2", VolumeFormat::Qcow2, 2 * MIB);
    let e = hv.create_volume(&bigger).await.unwrap_err();
    assert!(is_exists(&e, "p/e.qcow2"), "{e:?}");
    let raw = empty_volume("e.qcow2", VolumeFormat::Raw, MIB);
    let e = hv.create_volume(&raw).await.unwrap_err();
    assert!(is_exists(&e, "p/e.qcow2"), "{e:?}");
    let now = hv.volume_fresh("p", "e.qcow2").await.unwrap().unwrap();
    assert_eq!((now.capacity, now.format.as_deref()), (MIB, Some("qcow2")));

    // An overlay: adopted on the same base only.
    let base = empty_volume("base.raw", VolumeFormat::Raw, MIB);
    hv.create_volume(&base).await.unwrap();
    let other = empty_volume("other.raw", VolumeFormat::Raw, MIB);
    hv.create_volume(&other).await.unwrap();
    let on = |b: &str| overlay_on("o.qcow2", None, b);
    hv.create_volume(&on("base.raw")).await.unwrap();
    hv.create_volume(&on("base.raw")).await.unwrap();
    let e = hv.create_volume(&on("other.raw")).await.unwrap_err();
    assert!(is_exists(&e, "p/o.qcow2"), "{e:?}");

    // A copy or an upload is never taken over, even over a volume defined as planned:
    // the volume is refused and left untouched.
    let src = hv.volume_fresh("p", "base.raw").await.unwrap().unwrap();
    qemu_io_write(Path::new(&src.path), "raw", 0x5a, 0, MIB / 2).unwrap();
    let left = empty_volume("c.raw", VolumeFormat::Raw, MIB);
    hv.create_volume(&left).await.unwrap();
    let copy = spec(
        "c.raw",
        VolumeFormat::Raw,
        None,
        VolumeContent::CloneOf("base.raw".parse().unwrap()),
    );
    let e = hv.create_volume(&copy).await.unwrap_err();
    assert!(is_exists(&e, "p/c.raw"), "{e:?}");
    let now = hv.volume_fresh("p", "c.raw").await.unwrap().unwrap();
    let cmp = qemu_img_run(&["compare", "-U", &src.path, &now.path]).unwrap_or_default();
    assert!(
        !cmp.contains("identical"),
        "the volume was overwritten: {cmp}"
    );

    let image = root.path().join("image.raw");
    let f = std::fs::File::create(&image).unwrap();
    f.set_len(2 * MIB).unwrap();
    f.write_all_at(&[0xa5; 4096], MIB).unwrap();
    drop(f);
    let sum = sha256_prefix(&image, u64::MAX);
    let left = empty_volume("u.raw", VolumeFormat::Raw, 2 * MIB);
    hv.create_volume(&left).await.unwrap();
    let upload = spec(
        "u.raw",
        VolumeFormat::Raw,
        Some(2 * MIB),
        VolumeContent::Upload(UploadSource {
            location: SourceLocation::File(image.clone()),
            sha256: sum.clone(),
        }),
    );
    let e = hv.create_volume(&upload).await.unwrap_err();
    assert!(is_exists(&e, "p/u.raw"), "{e:?}");
    let now = hv.volume_fresh("p", "u.raw").await.unwrap().unwrap();
    assert_ne!(
        sha256_prefix(Path::new(&now.path), 2 * MIB),
        sum,
        "the existing volume is untouched"
    );
}
