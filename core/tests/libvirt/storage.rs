//! Storage pools and volumes against the real libvirtd. What libvirt holds is checked
//! through the client (its XML), what exists on disk with the file system and
//! `qemu-img info`. Dir pools live under /tmp, which libvirtd's private mount namespace
//! shares with the test.

use crate::start;
use rack_core::libvirt::{
    Hypervisor, LibvirtError, ObjectKind, PoolKind, PoolSpec, SourceLocation, UploadError,
    UploadSource, VolumeContent, VolumeFormat, VolumeSpec,
};
use rack_lab::Libvirt;
use rack_lab::process::TempDir;
use rack_lab::storage::{
    FileServer, LoopDevice, allocated, json_field, qemu_img_info, qemu_img_run, qemu_io_write,
};
use sha2::{Digest, Sha256};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

const MIB: u64 = 1 << 20;

fn tmp(prefix: &str) -> TempDir {
    TempDir::new(prefix).unwrap()
}

fn sha256_file(path: &Path) -> String {
    sha256_prefix(path, u64::MAX)
}

/// The SHA-256 of the first `len` bytes of a file.
pub(crate) fn sha256_prefix(path: &Path, len: u64) -> String {
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

fn virtual_size(path: &Path) -> u64 {
    let info = qemu_img_info(path).unwrap();
    json_field(&info, "virtual-size").unwrap().parse().unwrap()
}

pub(crate) async fn dir_pool(hv: &Hypervisor, name: &str, path: &Path) {
    hv.create_pool(&PoolSpec::dir(name, path.to_str().unwrap()))
        .await
        .unwrap();
}

/// A started libvirtd with the dir pool `p` on `<temp dir>/pool`; the temp dir and the
/// pool's directory.
async fn with_pool_p(prefix: &str) -> (Libvirt, Hypervisor, TempDir, PathBuf) {
    let (fixture, hv) = start();
    let root = tmp(prefix);
    let dir = root.path().join("pool");
    dir_pool(&hv, "p", &dir).await;
    (fixture, hv, root, dir)
}

/// The message of the error's source: what libvirt or the upload said.
fn source_text(e: &LibvirtError) -> String {
    std::error::Error::source(e).unwrap().to_string()
}

/// Creating `spec` fails on its storage, the message saying `hint`, and leaves no pool
/// definition behind.
async fn assert_pool_storage_fails(hv: &Hypervisor, spec: &PoolSpec, hint: &str) {
    let e = hv.create_pool(spec).await.unwrap_err();
    eprintln!("{e}: {:?}", std::error::Error::source(&e));
    assert!(matches!(e, LibvirtError::PoolStorage { .. }), "{e:?}");
    assert!(e.to_string().contains(hint), "{e}");
    assert!(
        hv.pool_fresh(&spec.name).await.unwrap().is_none(),
        "nothing left"
    );
}

/// The empty volume `name` of pool `p`.
pub(crate) fn empty_volume(name: &str, format: VolumeFormat, capacity: u64) -> VolumeSpec {
    VolumeSpec::empty("p", name, format, capacity)
}

/// The qcow2 overlay `name` of pool `p` on the volume `base` (`[pool/]name`).
pub(crate) fn overlay_on(name: &str, capacity: Option<u64>, base: &str) -> VolumeSpec {
    let base = base.parse().unwrap();
    with_content(
        "p",
        name,
        VolumeFormat::Qcow2,
        capacity,
        VolumeContent::Backing(base),
    )
}

/// The volume `name` in pool `p`, uploaded from `location` with the given SHA-256.
fn upload_spec(
    name: &str,
    format: VolumeFormat,
    capacity: Option<u64>,
    location: SourceLocation,
    sha256: &str,
) -> VolumeSpec {
    let source = UploadSource {
        location,
        sha256: sha256.into(),
    };
    with_content("p", name, format, capacity, VolumeContent::Upload(source))
}

/// The volume groups `vgs` lists, with the given columns.
fn vgs(columns: &str) -> String {
    let out = std::process::Command::new("vgs")
        .args(["--noheadings", "-o", columns])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub(crate) fn with_content(
    pool: &str,
    name: &str,
    format: VolumeFormat,
    capacity: Option<u64>,
    content: VolumeContent,
) -> VolumeSpec {
    VolumeSpec {
        pool: pool.into(),
        name: name.into(),
        format,
        capacity,
        content,
    }
}

/// A sparse raw image of `len` bytes with `data` MiB of 0xa5..-patterned data spread
/// over it (one MiB every `len / data`), and its SHA-256.
fn sparse_image(dir: &Path, name: &str, len: u64, data_mib: u64) -> (PathBuf, String) {
    let path = dir.join(name);
    let f = std::fs::File::create(&path).unwrap();
    f.set_len(len).unwrap();
    let step = len / data_mib.max(1);
    for i in 0..data_mib {
        let block: Vec<u8> = (0..MIB).map(|j| (i as u8) ^ (j as u8) | 1).collect();
        f.write_all_at(&block, i * step).unwrap();
    }
    f.sync_all().unwrap();
    let sum = sha256_file(&path);
    (path, sum)
}

#[tokio::test]
async fn dir_pool_create_update_drift_delete() {
    let (_fixture, hv) = start();
    let root = tmp("rack-pools");
    let path = root.path().join("nested/images");
    assert!(
        hv.pools().await.unwrap().is_empty(),
        "the fixture has no pool"
    );

    // Create: defined, built (mkdir -p), started, autostarted; read back equal.
    let spec = PoolSpec::dir("images", path.to_str().unwrap());
    let t = Instant::now();
    let state = hv.create_pool(&spec).await.unwrap();
    eprintln!("dir pool define+build+start: {:?}", t.elapsed());
    assert!(
        state.active && state.persistent && state.autostart,
        "{state:?}"
    );
    assert_eq!(state.spec.clone().unwrap(), spec, "{}", state.xml);
    assert!(state.xml.contains("<pool type='dir'>"), "{}", state.xml);
    assert!(state.capacity > 0 && state.available > 0);
    assert!(path.is_dir(), "the pool's directory was built");
    assert_eq!(hv.pools().await.unwrap().len(), 1);

    // Creating exactly the same pool again adopts it; another path is refused, naming
    // the pool.
    let adopted = hv.create_pool_recording(&spec).await.unwrap();
    assert_eq!(adopted.state.uuid, state.uuid);
    assert!(
        !adopted.built_storage,
        "an adopted pool's storage is not rack's"
    );
    let mut other = spec.clone();
    other.kind = PoolKind::Dir {
        path: format!("{}-other", path.display()),
    };
    let e = hv.create_pool(&other).await.unwrap_err();
    assert!(
        matches!(
            e,
            LibvirtError::Exists {
                kind: ObjectKind::StoragePool,
                ..
            }
        ),
        "{e:?}"
    );

    // Update in place: autostart off; a changed path needs replacement.
    let mut want = spec.clone();
    want.autostart = false;
    let updated = hv.update_pool(&want).await.unwrap();
    assert!(!updated.autostart && updated.active);
    assert_eq!(updated.uuid, state.uuid);
    let moved = PoolSpec::dir("images", root.path().join("elsewhere").to_str().unwrap());
    match hv.update_pool(&moved).await.unwrap_err() {
        LibvirtError::StorageRequiresReplacement { attributes, .. } => {
            assert_eq!(attributes, ["path"]);
        }
        e => panic!("{e:?}"),
    }

    // Drift: deleted through another connection. The cache still answers, a fresh
    // read sees it gone.
    let other = Hypervisor::new(hv.uri()).unwrap();
    assert!(other.delete_pool("images").await.unwrap());
    assert!(hv.pool("images").await.unwrap().is_some(), "cached");
    assert!(hv.pool_fresh("images").await.unwrap().is_none());
    assert!(!path.exists(), "an empty pool's directory is removed");

    // A pool holding a volume keeps its directory (and the volume file) on delete.
    hv.create_pool(&spec).await.unwrap();
    hv.create_volume(&VolumeSpec::empty(
        "images",
        "keep.raw",
        VolumeFormat::Raw,
        MIB,
    ))
    .await
    .unwrap();
    assert!(hv.delete_pool("images").await.unwrap());
    assert!(path.join("keep.raw").is_file());
    assert!(!hv.delete_pool("images").await.unwrap(), "already gone");

    // Import: a pool defined by someone else is read fresh and modelled.
    std::fs::remove_file(path.join("keep.raw")).unwrap();
    other.create_pool(&want).await.unwrap();
    let imported = hv.pool_fresh("images").await.unwrap().unwrap();
    assert_eq!(imported.spec.unwrap(), want);
    assert_eq!(hv.refresh_pools().await.unwrap().len(), 1);

    // Stopped out of band: seen inactive; started again.
    let virsh = rack_lab::process::find_binary("virsh", "libvirt-clients").unwrap();
    let mut cmd = std::process::Command::new(virsh);
    cmd.args(["-c", hv.uri(), "pool-destroy", "images"]);
    rack_lab::process::run(cmd, "virsh pool-destroy").unwrap();
    let stopped = hv.pool_fresh("images").await.unwrap().unwrap();
    assert!(!stopped.active, "{stopped:?}");
    let still = hv.update_pool(&want).await.unwrap();
    assert!(!still.active, "update changes autostart only");
    let started = hv.set_pool_active("images", true).await.unwrap();
    assert!(started.active);
    assert!(!hv.set_pool_active("images", false).await.unwrap().active);
    assert!(hv.set_pool_active("images", true).await.unwrap().active);
    assert!(hv.delete_pool("images").await.unwrap());
    assert!(hv.pool_fresh("images").await.unwrap().is_none());
}

#[tokio::test]
async fn pool_errors_say_what_to_check() {
    let (_fixture, hv) = start();
    let root = tmp("rack-pools-err");
    // A file where the directory should be: build fails, the definition is removed.
    let file = root.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let bad = PoolSpec::dir("bad", file.to_str().unwrap());
    assert_pool_storage_fails(&hv, &bad, "check that the path exists").await;

    // A volume group that does not exist, without devices to build it on.
    let lvm = PoolSpec::logical("lvm", "rack_no_such_vg", vec![]);
    assert_pool_storage_fails(&hv, &lvm, "volume group exists").await;

    // Invalid specs never reach libvirt.
    let e = hv
        .create_pool(&PoolSpec::dir("rel", "relative/path"))
        .await
        .unwrap_err();
    assert!(matches!(e, LibvirtError::PoolSpec { .. }), "{e:?}");

    // Volumes in a pool that does not exist.
    let e = hv
        .create_volume(&VolumeSpec::empty("nopool", "v", VolumeFormat::Raw, MIB))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            LibvirtError::NotFound {
                kind: ObjectKind::StoragePool,
                ..
            }
        ),
        "{e:?}"
    );
}

#[tokio::test]
async fn logical_pool_on_a_loop_device() {
    let (_fixture, hv) = start();
    let mut disk = LoopDevice::new(64 * MIB).unwrap();
    let vg = format!("rackvg{}", std::process::id());
    disk.volume_group = Some(vg.clone());
    let spec = PoolSpec::logical("fast", &vg, vec![disk.device.clone()]);
    let state = hv
        .create_pool(&spec)
        .await
        .unwrap_or_else(|e| panic!("{e}: {:?}", std::error::Error::source(&e)));
    assert!(state.active, "{state:?}");
    assert_eq!(state.spec.clone().unwrap(), spec, "{}", state.xml);
    assert!(state.capacity > 32 * MIB, "{state:?}");
    let groups = vgs("vg_name,pv_count");
    assert!(groups.contains(&vg), "vgcreate ran: {groups}");

    // qcow2 is refused in a logical pool before libvirt is asked.
    let e = hv
        .create_volume(&VolumeSpec::empty("fast", "q", VolumeFormat::Qcow2, MIB))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("cannot be used"), "{e}");

    // Deleting the pool rack built removes the volume group.
    assert!(hv.delete_pool("fast").await.unwrap());
    assert!(
        !vgs("vg_name").contains(&vg),
        "the volume group rack built is removed"
    );
}

#[tokio::test]
async fn volumes_empty_overlay_copy_resize_drift_delete() {
    let (_fixture, hv, _root, dir) = with_pool_p("rack-vols").await;

    // Empty volumes: a sparse raw file and an empty qcow2 image.
    let raw = empty_volume("empty.raw", VolumeFormat::Raw, 64 * MIB);
    let raw = hv.create_volume(&raw).await.unwrap();
    assert_eq!(raw.capacity, 64 * MIB);
    assert_eq!(raw.format.as_deref(), Some("raw"));
    assert_eq!(raw.path, dir.join("empty.raw").to_str().unwrap());
    assert_eq!(std::fs::metadata(&raw.path).unwrap().len(), 64 * MIB);
    assert!(allocated(Path::new(&raw.path)) < MIB, "sparse");
    let t = Instant::now();
    let base = empty_volume("base.qcow2", VolumeFormat::Qcow2, 256 * MIB);
    let base = hv.create_volume(&base).await.unwrap();
    eprintln!("empty qcow2 volume: {:?}", t.elapsed());
    let info = qemu_img_info(Path::new(&base.path)).unwrap();
    assert_eq!(
        json_field(&info, "format").as_deref(),
        Some("qcow2"),
        "{info}"
    );
    assert_eq!(virtual_size(Path::new(&base.path)), 256 * MIB);
    qemu_io_write(Path::new(&base.path), "qcow2", 0x5a, 0, 4 * MIB).unwrap();

    // An overlay on the base: qemu-img shows the backing file, libvirt the backingStore.
    let t = Instant::now();
    let overlay = hv
        .create_volume(&overlay_on("vm1.qcow2", None, "base.qcow2"))
        .await
        .unwrap();
    eprintln!("overlay volume: {:?}", t.elapsed());
    assert_eq!(overlay.capacity, 256 * MIB, "the base's size");
    assert_eq!(overlay.backing.as_ref().unwrap().path, base.path);
    assert!(overlay.xml.contains("<backingStore>"), "{}", overlay.xml);
    let info = qemu_img_info(Path::new(&overlay.path)).unwrap();
    assert_eq!(
        json_field(&info, "backing-filename").as_deref(),
        Some(base.path.as_str()),
        "{info}"
    );
    assert_eq!(
        json_field(&info, "backing-filename-format").as_deref(),
        Some("qcow2"),
        "{info}"
    );
    assert!(
        allocated(Path::new(&overlay.path)) < MIB,
        "an overlay holds no data"
    );

    // An overlay smaller than its base is refused; a larger one is fine.
    let small = overlay_on("small.qcow2", Some(MIB), "base.qcow2");
    let e = hv.create_volume(&small).await.unwrap_err();
    assert!(e.to_string().contains("cannot be used"), "{e}");
    assert!(
        source_text(&e).contains("smaller than volume base.qcow2 (256MiB)"),
        "{e:?}"
    );

    // A full copy made by the hypervisor, grown on the way.
    let t = Instant::now();
    let copy = hv
        .create_volume(&with_content(
            "p",
            "copy.qcow2",
            VolumeFormat::Qcow2,
            Some(512 * MIB),
            VolumeContent::CloneOf("p/base.qcow2".parse().unwrap()),
        ))
        .await
        .unwrap();
    eprintln!("full copy (4 MiB of data) + resize: {:?}", t.elapsed());
    assert_eq!(copy.capacity, 512 * MIB);
    assert!(copy.backing.is_none());
    let info = qemu_img_info(Path::new(&copy.path)).unwrap();
    assert!(json_field(&info, "backing-filename").is_none(), "{info}");
    let cmp = qemu_img_run(&["compare", "-U", &base.path, &copy.path]).unwrap_or_default();
    assert!(cmp.contains("identical"), "{cmp}");

    // Resize in place (grow); shrinking is refused before anything changes.
    let t = Instant::now();
    let grown = hv.resize_volume("p", "vm1.qcow2", GIB).await.unwrap();
    eprintln!("resize qcow2: {:?}", t.elapsed());
    assert_eq!(grown.capacity, GIB);
    assert_eq!(virtual_size(Path::new(&grown.path)), GIB);
    let e = hv
        .resize_volume("p", "vm1.qcow2", 128 * MIB)
        .await
        .unwrap_err();
    assert!(matches!(e, LibvirtError::Shrink { .. }), "{e:?}");
    assert!(
        e.to_string().contains("is 1GiB; shrinking it to 128MiB"),
        "{e}"
    );
    assert_eq!(virtual_size(Path::new(&grown.path)), GIB, "unchanged");
    let raw = hv.resize_volume("p", "empty.raw", 96 * MIB).await.unwrap();
    assert_eq!(std::fs::metadata(&raw.path).unwrap().len(), 96 * MIB);

    // Listing (cached, and after a refresh).
    let names: Vec<String> = hv
        .volumes("p")
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.name)
        .collect();
    assert_eq!(
        names,
        ["base.qcow2", "copy.qcow2", "empty.raw", "vm1.qcow2"]
    );

    // Drift: resized behind rack's back, and a file removed behind libvirt's back.
    qemu_img_run(&["resize", "-f", "qcow2", &copy.path, "1G"]).unwrap();
    let fresh = hv.volume_fresh("p", "copy.qcow2").await.unwrap().unwrap();
    assert_eq!(fresh.capacity, GIB, "resize seen");
    std::fs::remove_file(&raw.path).unwrap();
    assert!(
        hv.volume("p", "empty.raw").await.unwrap().is_some(),
        "cached"
    );
    assert!(hv.volume_fresh("p", "empty.raw").await.unwrap().is_none());
    assert!(hv.volume("p", "empty.raw").await.unwrap().is_none());

    // Import: an image made out of band is found by a fresh read.
    qemu_img_run(&[
        "create",
        "-f",
        "qcow2",
        dir.join("made-by-hand.qcow2").to_str().unwrap(),
        "32M",
    ])
    .unwrap();
    let found = hv
        .volume_fresh("p", "made-by-hand.qcow2")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.capacity, 32 * MIB);
    assert_eq!(found.format.as_deref(), Some("qcow2"));

    // Exists: a volume of that name, and a file libvirt has not seen yet.
    std::fs::write(dir.join("stray.raw"), b"").unwrap();
    for exists in [
        empty_volume("base.qcow2", VolumeFormat::Qcow2, MIB),
        empty_volume("stray.raw", VolumeFormat::Raw, MIB),
    ] {
        let e = hv.create_volume(&exists).await.unwrap_err();
        assert!(matches!(e, LibvirtError::Exists { .. }), "{e:?}");
    }

    // Delete.
    for name in [
        "vm1.qcow2",
        "copy.qcow2",
        "base.qcow2",
        "made-by-hand.qcow2",
    ] {
        assert!(hv.delete_volume("p", name).await.unwrap(), "{name}");
        assert!(!dir.join(name).exists(), "{name}");
    }
    assert!(!hv.delete_volume("p", "vm1.qcow2").await.unwrap());
    std::fs::remove_file(dir.join("stray.raw")).unwrap();
    assert!(hv.delete_pool("p").await.unwrap());
}

const GIB: u64 = 1 << 30;

#[tokio::test]
async fn upload_from_a_file_sparse_and_checked() {
    let (_fixture, hv, root, dir) = with_pool_p("rack-upload").await;
    let (image, sum) = sparse_image(root.path(), "disk.raw", 256 * MIB, 8);

    // A wrong sha256: refused before anything is created, naming both sums.
    let wrong = "0".repeat(64);
    let upload = |name: &str, sha: &str, format, capacity| {
        upload_spec(
            name,
            format,
            capacity,
            SourceLocation::File(image.clone()),
            sha,
        )
    };
    let e = hv
        .create_volume(&upload("bad.raw", &wrong, VolumeFormat::Raw, None))
        .await
        .unwrap_err();
    let LibvirtError::Upload { source, .. } = &e else {
        panic!("{e:?}")
    };
    assert!(
        matches!(&**source, UploadError::Checksum { expected, actual, .. }
            if *expected == wrong && *actual == sum),
        "{source:?}"
    );
    let text = source.to_string();
    assert!(text.contains(&sum) && text.contains(&wrong), "{text}");
    assert!(hv.volume_fresh("p", "bad.raw").await.unwrap().is_none());
    assert!(!dir.join("bad.raw").exists());

    // A qcow2 declared for a raw file.
    let e = hv
        .create_volume(&upload("bad.qcow2", &sum, VolumeFormat::Qcow2, None))
        .await
        .unwrap_err();
    assert!(
        source_text(&e).contains("holds a raw image, but format is qcow2"),
        "{e:?}"
    );

    // The right sum: the volume holds the same bytes, sparse; only data was sent.
    let t = Instant::now();
    let (state, report) = hv
        .create_volume_reporting(&upload("disk.raw", &sum, VolumeFormat::Raw, Some(GIB)))
        .await
        .unwrap();
    let report = report.unwrap();
    eprintln!(
        "upload 256 MiB with 8 MiB data: {report} (total {:?})",
        t.elapsed()
    );
    assert_eq!(report.length, 256 * MIB);
    assert_eq!(report.data_bytes, 8 * MIB, "{report}");
    assert_eq!(report.hole_bytes, 248 * MIB, "{report}");
    assert_eq!(report.sha256, sum);
    assert_eq!(state.capacity, GIB, "grown to size after the upload");
    let on_disk = Path::new(&state.path);
    assert!(allocated(on_disk) <= 9 * MIB, "{}", allocated(on_disk));
    assert_eq!(sha256_prefix(on_disk, 256 * MIB), sum, "same bytes");

    // A qcow2 image with data: seen as qcow2 after the upload.
    let q = root.path().join("img.qcow2");
    qemu_img_run(&["create", "-f", "qcow2", q.to_str().unwrap(), "64M"]).unwrap();
    qemu_io_write(&q, "qcow2", 0x33, 8 * MIB, 2 * MIB).unwrap();
    let qsum = sha256_file(&q);
    let location = SourceLocation::File(q.clone());
    let img = upload_spec(
        "img.qcow2",
        VolumeFormat::Qcow2,
        None,
        location,
        &qsum.to_uppercase(),
    );
    let state = hv.create_volume(&img).await.unwrap();
    assert_eq!(state.format.as_deref(), Some("qcow2"), "{}", state.xml);
    assert_eq!(state.capacity, 64 * MIB);
    let cmp =
        qemu_img_run(&["compare", "-U", q.to_str().unwrap(), &state.path]).unwrap_or_default();
    assert!(cmp.contains("identical"), "{cmp}");

    // An image larger than size.
    let e = hv
        .create_volume(&upload("small.raw", &sum, VolumeFormat::Raw, Some(MIB)))
        .await
        .unwrap_err();
    assert!(source_text(&e).contains("larger than size"), "{e:?}");
    assert!(!dir.join("small.raw").exists(), "deleted again");

    // A missing file.
    let missing = SourceLocation::File(root.path().join("nope"));
    let x = upload_spec("x.raw", VolumeFormat::Raw, None, missing, &sum);
    let e = hv.create_volume(&x).await.unwrap_err();
    assert!(source_text(&e).contains("Cannot read source file"), "{e:?}");
}

#[tokio::test]
async fn upload_from_a_url_checked_while_streaming() {
    let (_fixture, hv, root, dir) = with_pool_p("rack-url").await;
    let served = root.path().join("www");
    std::fs::create_dir_all(&served).unwrap();
    let (_, sum) = sparse_image(&served, "disk.raw", 32 * MIB, 4);
    let server = FileServer::start(&served).unwrap();
    let url = |name: &str, sha: &str| {
        let location = SourceLocation::Url(server.url(name));
        upload_spec("web.raw", VolumeFormat::Raw, None, location, sha)
    };

    let (state, report) = hv
        .create_volume_reporting(&url("disk.raw", &sum))
        .await
        .unwrap();
    let report = report.unwrap();
    eprintln!("URL upload: {report}");
    assert_eq!(report.sha256, sum);
    assert_eq!(report.length, 32 * MIB);
    assert_eq!(
        report.data_bytes,
        4 * MIB,
        "zero chunks go as holes: {report}"
    );
    assert_eq!(state.capacity, 32 * MIB);
    assert_eq!(sha256_file(Path::new(&state.path)), sum);
    assert!(allocated(Path::new(&state.path)) <= 5 * MIB);
    assert!(hv.delete_volume("p", "web.raw").await.unwrap());

    // A wrong sum: found at the end of the stream, the volume is deleted.
    let wrong = "f".repeat(64);
    let e = hv
        .create_volume(&url("disk.raw", &wrong))
        .await
        .unwrap_err();
    let text = source_text(&e);
    assert!(text.contains(&sum) && text.contains(&wrong), "{text}");
    assert!(hv.volume_fresh("p", "web.raw").await.unwrap().is_none());
    assert!(!dir.join("web.raw").exists());

    // Not found on the server.
    let e = hv
        .create_volume(&url("missing.raw", &sum))
        .await
        .unwrap_err();
    let text = source_text(&e);
    assert!(text.contains("HTTP status 404"), "{text}");
    assert!(!dir.join("web.raw").exists());
}

#[test]
fn test_images_are_what_they_claim() {
    // The helper writes the amount of data it says, sparse.
    let root = tmp("rack-img");
    let (path, _) = sparse_image(root.path(), "x.raw", 64 * MIB, 4);
    let alloc = allocated(&path);
    assert!((4 * MIB..=5 * MIB).contains(&alloc), "{alloc}");
}
