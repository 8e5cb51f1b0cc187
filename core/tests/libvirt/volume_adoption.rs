//! A volume create is idempotent: what a create that timed out left (libvirtd carried
//! it out after rack gave up) is adopted when it is defined as planned, a copy or an
//! upload written again onto it; any other volume of that name is a conflict and is
//! left as it is.

use crate::start;
use crate::support::process::TempDir;
use crate::support::storage::{qemu_img_run, qemu_io_write};
use rack_core::libvirt::{
    Hypervisor, LibvirtError, ObjectKind, PoolSpec, SourceLocation, UploadSource, VolumeContent,
    VolumeFormat, VolumeRef, VolumeSpec,
};
use sha2::{Digest, Sha256};
use std::os::unix::fs::FileExt;
use std::path::Path;

const MIB: u64 = 1 << 20;

fn sha256_prefix(path: &Path, len: u64) -> String {
    use std::io::Read;
    let mut hasher = Sha256::new();
    let file = std::fs::File::open(path).unwrap();
    std::io::copy(&mut file.take(len), &mut hasher).unwrap();
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn spec(
    name: &str,
    format: VolumeFormat,
    capacity: Option<u64>,
    content: VolumeContent,
) -> VolumeSpec {
    VolumeSpec {
        pool: "p".into(),
        name: name.into(),
        format,
        capacity,
        content,
    }
}

fn is_exists(e: &LibvirtError, name: &str) -> bool {
    matches!(e, LibvirtError::Exists { kind: ObjectKind::Volume, name: n, .. } if n == name)
}

async fn pool(hv: &Hypervisor, dir: &Path) {
    hv.create_pool(&PoolSpec::dir("p", dir.to_str().unwrap()))
        .await
        .unwrap();
}

#[tokio::test]
async fn volume_create_adopts_what_is_planned_and_refuses_anything_else() {
    let (_fixture, hv) = start();
    let root = TempDir::new("rack-adopt").unwrap();
    let dir = root.path().join("pool");
    pool(&hv, &dir).await;

    // Empty: the same create twice adopts; another size or format is a conflict.
    let empty = spec(
        "e.qcow2",
        VolumeFormat::Qcow2,
        Some(MIB),
        VolumeContent::Empty,
    );
    let first = hv.create_volume(&empty).await.unwrap();
    let again = hv.create_volume(&empty).await.unwrap();
    assert_eq!(first.key, again.key);
    let bigger = spec(
        "e.qcow2",
        VolumeFormat::Qcow2,
        Some(2 * MIB),
        VolumeContent::Empty,
    );
    let e = hv.create_volume(&bigger).await.unwrap_err();
    assert!(is_exists(&e, "p/e.qcow2"), "{e:?}");
    let raw = spec(
        "e.qcow2",
        VolumeFormat::Raw,
        Some(MIB),
        VolumeContent::Empty,
    );
    let e = hv.create_volume(&raw).await.unwrap_err();
    assert!(is_exists(&e, "p/e.qcow2"), "{e:?}");
    let now = hv.volume_fresh("p", "e.qcow2").await.unwrap().unwrap();
    assert_eq!((now.capacity, now.format.as_deref()), (MIB, Some("qcow2")));

    // An overlay: adopted on the same base only.
    let base = spec(
        "base.raw",
        VolumeFormat::Raw,
        Some(MIB),
        VolumeContent::Empty,
    );
    hv.create_volume(&base).await.unwrap();
    let other = spec(
        "other.raw",
        VolumeFormat::Raw,
        Some(MIB),
        VolumeContent::Empty,
    );
    hv.create_volume(&other).await.unwrap();
    let on = |b: &str| {
        spec(
            "o.qcow2",
            VolumeFormat::Qcow2,
            None,
            VolumeContent::Backing(b.parse::<VolumeRef>().unwrap()),
        )
    };
    hv.create_volume(&on("base.raw")).await.unwrap();
    hv.create_volume(&on("base.raw")).await.unwrap();
    let e = hv.create_volume(&on("other.raw")).await.unwrap_err();
    assert!(is_exists(&e, "p/o.qcow2"), "{e:?}");

    // A copy: the volume a timed-out copy left (defined as planned, content partial) is
    // adopted and the copy made again.
    let src = hv.volume_fresh("p", "base.raw").await.unwrap().unwrap();
    qemu_io_write(Path::new(&src.path), "raw", 0x5a, 0, MIB / 2).unwrap();
    let left = spec("c.raw", VolumeFormat::Raw, Some(MIB), VolumeContent::Empty);
    hv.create_volume(&left).await.unwrap();
    let copy = spec(
        "c.raw",
        VolumeFormat::Raw,
        None,
        VolumeContent::CloneOf("base.raw".parse().unwrap()),
    );
    let copied = hv.create_volume(&copy).await.unwrap();
    let cmp = qemu_img_run(&["compare", "-U", &src.path, &copied.path]).unwrap_or_default();
    assert!(cmp.contains("identical"), "{cmp}");
    let copy_big = spec(
        "c.raw",
        VolumeFormat::Raw,
        Some(4 * MIB),
        VolumeContent::CloneOf("base.raw".parse().unwrap()),
    );
    let e = hv.create_volume(&copy_big).await.unwrap_err();
    assert!(is_exists(&e, "p/c.raw"), "{e:?}");

    // An upload: the raw volume a timed-out upload streamed into is adopted and the
    // content uploaded again; a volume of another size is a conflict.
    let image = root.path().join("image.raw");
    let f = std::fs::File::create(&image).unwrap();
    f.set_len(2 * MIB).unwrap();
    f.write_all_at(&[0xa5; 4096], MIB).unwrap();
    drop(f);
    let sum = sha256_prefix(&image, u64::MAX);
    let left = spec(
        "u.raw",
        VolumeFormat::Raw,
        Some(2 * MIB),
        VolumeContent::Empty,
    );
    hv.create_volume(&left).await.unwrap();
    let upload = |capacity| {
        spec(
            "u.raw",
            VolumeFormat::Raw,
            capacity,
            VolumeContent::Upload(UploadSource {
                location: SourceLocation::File(image.clone()),
                sha256: sum.clone(),
            }),
        )
    };
    let up = hv.create_volume(&upload(Some(4 * MIB))).await.unwrap();
    assert_eq!(up.capacity, 4 * MIB);
    assert_eq!(
        sha256_prefix(Path::new(&up.path), 2 * MIB),
        sum,
        "uploaded again"
    );
    // The finished upload as planned: adopted and written again.
    let up = hv.create_volume(&upload(Some(4 * MIB))).await.unwrap();
    assert_eq!(sha256_prefix(Path::new(&up.path), 2 * MIB), sum);
    let e = hv.create_volume(&upload(Some(8 * MIB))).await.unwrap_err();
    assert!(is_exists(&e, "p/u.raw"), "{e:?}");
    let now = hv.volume_fresh("p", "u.raw").await.unwrap().unwrap();
    assert_eq!(now.capacity, 4 * MIB, "the existing volume is untouched");
}
