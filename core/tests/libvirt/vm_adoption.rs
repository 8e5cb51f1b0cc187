//! A VM create is idempotent: a domain defined exactly as planned (what a create that
//! timed out and that libvirtd carried out later leaves) is adopted: its cloud-init seed
//! written again, its autostart set, started when planned running. A domain defined
//! differently under the same name is a conflict and is left as it is, seed included.

use rack_core::cloudinit::CloudInit;
use rack_core::libvirt::{
    DomainSpec, DomainType, Hypervisor, LibvirtError, ObjectKind, PoolSpec, cloud_init_volume_name,
    parse_memory_kib,
};
use rack_lab::Libvirt;
use rack_lab::guest::fix_kvm_permissions;
use std::time::Duration;

fn seed(marker: &str) -> CloudInit {
    CloudInit {
        user_data: Some(format!("#cloud-config\n# rack-marker: {marker}\n")),
        meta_data: Some("instance-id: adopted-1\nlocal-hostname: adopted\n".into()),
        network_config: None,
        vendor_data: None,
    }
}

fn seed_has(dir: &std::path::Path, marker: &str) -> bool {
    let bytes = std::fs::read(dir.join(cloud_init_volume_name("adopted"))).unwrap();
    let needle = format!("rack-marker: {marker}");
    bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn vm_create_adopts_what_is_planned_and_refuses_anything_else() {
    fix_kvm_permissions().unwrap_or_else(|e| panic!("{e}"));
    let fixture = Libvirt::start().unwrap_or_else(|e| panic!("cannot start libvirtd: {e}"));
    let hv = Hypervisor::with_timeout(&fixture.uri, Duration::from_secs(60)).unwrap();
    let dir = fixture.dir().join("seeds");
    hv.create_pool(&PoolSpec::dir("seeds", dir.to_str().unwrap()))
        .await
        .unwrap();
    let mut spec = DomainSpec::new("adopted", parse_memory_kib("64MiB").unwrap());
    spec.domain_type = DomainType::Qemu;
    spec.cloud_init_pool = Some("seeds".into());
    spec.running = false;
    spec.autostart = false;
    let first = hv.create_domain(&spec, Some(&seed("one"))).await.unwrap();
    assert!(seed_has(&dir, "one"));

    // The same definition, planned running with autostart and a new seed: adopted.
    spec.running = true;
    spec.autostart = true;
    let adopted = hv.create_domain(&spec, Some(&seed("two"))).await.unwrap();
    assert!(adopted.start_error.is_none(), "{:?}", adopted.start_error);
    assert_eq!(
        adopted.state.uuid, first.state.uuid,
        "adopted, not made again"
    );
    assert!(adopted.state.active, "started as planned");
    assert!(adopted.state.autostart, "autostart set as planned");
    assert!(seed_has(&dir, "two"), "the seed written again");

    // Another memory size: a conflict; the domain and its seed are left as they are.
    let mut other = spec.clone();
    other.memory_kib = parse_memory_kib("96MiB").unwrap();
    let e = hv
        .create_domain(&other, Some(&seed("three")))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, LibvirtError::Exists { kind: ObjectKind::Domain, name, .. } if name == "adopted"),
        "{e:?}"
    );
    assert!(seed_has(&dir, "two"), "the seed is left as it was");
    let now = hv.domain_fresh("adopted").await.unwrap().unwrap();
    assert_eq!(now.spec.unwrap().memory_kib, spec.memory_kib);

    // Without a seed the same holds.
    let mut bare = DomainSpec::new("bare", parse_memory_kib("64MiB").unwrap());
    bare.domain_type = DomainType::Qemu;
    bare.running = false;
    let first = hv.create_domain(&bare, None).await.unwrap();
    let again = hv.create_domain(&bare, None).await.unwrap();
    assert_eq!(first.state.uuid, again.state.uuid);
    bare.vcpus = 2;
    bare.max_vcpus = Some(2);
    let e = hv.create_domain(&bare, None).await.unwrap_err();
    assert!(matches!(&e, LibvirtError::Exists { .. }), "{e:?}");

    let t = Duration::from_secs(5);
    assert!(hv.delete_domain("adopted", t).await.unwrap());
    assert!(hv.delete_domain("bare", t).await.unwrap());
}
