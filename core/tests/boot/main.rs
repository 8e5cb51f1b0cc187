//! The provisioning-server client against a real nginx (Debian 12's, with its `dav`
//! module) from the lab's provisioning fixture. The tests fail (never skip) naming the
//! missing package when nginx is absent.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rack_core::boot::{BootClient, BootConfig, BootError, BootPath, sha256_hex};
use rack_core::kea::Secret;
use rack_lab::Provisioning;

fn client(p: &Provisioning, password: &str) -> BootClient {
    let mut c = BootConfig::new(p.url.clone());
    c.username = Some(rack_lab::provisioning::USERNAME.into());
    c.password = Some(Secret::new(password));
    BootClient::new(c).unwrap()
}

fn path(p: &str) -> BootPath {
    BootPath::parse(p).unwrap()
}

#[tokio::test]
async fn a_file_is_written_read_once_and_deleted() {
    let p = Provisioning::started();
    let c = client(&p, &p.password);
    let f = path("ztp/tor1.sh");
    assert_eq!(c.file(&f).await.unwrap(), None);
    let written = c.put(&f, b"#!/bin/sh\necho one\n".to_vec()).await.unwrap();
    assert_eq!(written.sha256, sha256_hex(b"#!/bin/sh\necho one\n"));
    // Machines fetch it without a password, in full, at once.
    assert_eq!(
        p.get("ztp/tor1.sh"),
        Some((200, "#!/bin/sh\necho one\n".to_string()))
    );
    // What the client wrote it knows without reading it back.
    let calls = c.calls_made();
    assert_eq!(c.file(&f).await.unwrap(), Some(written.clone()));
    assert_eq!(c.calls_made(), calls);

    // A change on the server is seen by a fresh read (one GET), then served from memory.
    std::fs::write(p.file("ztp/tor1.sh"), "#!/bin/sh\necho changed\n").unwrap();
    c.invalidate(&f);
    let read = c.file(&f).await.unwrap().unwrap();
    assert_eq!(read.text.as_deref(), Some("#!/bin/sh\necho changed\n"));
    let again = c.file(&f).await.unwrap().unwrap();
    assert_eq!(read, again);
    assert_eq!(c.calls_made(), calls + 1);

    // A second client (another provider process) reads it once for all its readers.
    let other = client(&p, &p.password);
    let reads = (0..8).map(|_| other.file(&f));
    for r in futures::future::join_all(reads).await {
        assert_eq!(r.unwrap().unwrap().sha256, read.sha256);
    }
    assert_eq!(other.calls_made(), 1);

    assert!(c.delete(&f).await.unwrap());
    assert_eq!(p.get("ztp/tor1.sh").map(|(s, _)| s), Some(404));
    assert!(
        !c.delete(&f).await.unwrap(),
        "a second delete finds nothing"
    );
    assert_eq!(c.file(&f).await.unwrap(), None);
}

#[tokio::test]
async fn large_binary_files_are_known_by_hash() {
    let p = Provisioning::started();
    let c = client(&p, &p.password);
    let f = path("debian/12/initrd.gz");
    let body: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    c.put(&f, body.clone()).await.unwrap();
    assert_eq!(std::fs::read(p.file("debian/12/initrd.gz")).unwrap(), body);
    c.invalidate(&f);
    let read = c.file(&f).await.unwrap().unwrap();
    assert_eq!(read.sha256, sha256_hex(&body));
    assert_eq!(read.size, body.len() as u64);
    assert_eq!(read.text, None);
}

#[tokio::test]
async fn a_wrong_password_is_named_and_changes_nothing() {
    let p = Provisioning::started();
    let c = client(&p, "not-the-password");
    let f = path("boot.ipxe");
    let e = c.put(&f, b"#!ipxe\n".to_vec()).await.unwrap_err();
    assert!(matches!(e, BootError::Unauthorized { .. }), "{e}");
    let text = e.to_string();
    assert!(
        text.contains("user \"rack\"") && text.contains("HTTP 401"),
        "{text}"
    );
    assert!(!text.contains("not-the-password"), "{text}");
    assert_eq!(p.get("boot.ipxe").map(|(s, _)| s), Some(404));
    // Reads need no password.
    assert_eq!(c.file(&f).await.unwrap(), None);
}

#[tokio::test]
async fn a_server_is_listed_through_its_json_directory_indexes() {
    let p = Provisioning::started();
    let c = client(&p, &p.password);
    c.put(&path("boot.ipxe"), b"#!ipxe\n".to_vec())
        .await
        .unwrap();
    c.put(&path("ztp/pod1/tor1.sh"), b"#!/bin/sh\n".to_vec())
        .await
        .unwrap();
    // Written out of band: a file rack never saw, one whose name rack does not write,
    // and a hidden one, which nginx does not list.
    std::fs::write(p.file("ztp/pod1/tor2.sh"), "x").unwrap();
    std::fs::write(p.file("ztp/with space"), "x").unwrap();
    std::fs::write(p.file("ztp/.hidden"), "x").unwrap();
    let calls = c.calls_made();
    let all = c.list(None).await.unwrap();
    let names: Vec<_> = all.iter().map(|l| (l.path.as_str(), l.size)).collect();
    assert_eq!(
        names,
        [
            ("boot.ipxe", 7),
            ("ztp/pod1/tor1.sh", 10),
            ("ztp/pod1/tor2.sh", 1)
        ]
    );
    // One GET per directory: /boot/, ztp/, ztp/pod1/.
    assert_eq!(c.calls_made(), calls + 3);
    let under = c.list(Some(&path("ztp/pod1"))).await.unwrap();
    assert_eq!(under.len(), 2);
    assert_eq!(c.list(Some(&path("nothing"))).await.unwrap(), vec![]);
    // Listings are for rack's user only.
    let e = client(&p, "not-the-password").list(None).await.unwrap_err();
    assert!(matches!(e, BootError::Unauthorized { .. }), "{e}");
    let anon = BootClient::new(BootConfig::new(p.url.clone())).unwrap();
    assert!(matches!(
        anon.list(None).await.unwrap_err(),
        BootError::Unauthorized { .. }
    ));
    // Plain GETs of the files still need no password.
    assert_eq!(p.get("ztp/pod1/tor2.sh"), Some((200, "x".to_string())));
}

#[tokio::test]
async fn an_unreachable_server_is_named() {
    let port = rack_lab::process::free_port().unwrap();
    let c = BootClient::new(BootConfig::new(format!("http://127.0.0.1:{port}/boot/"))).unwrap();
    let e = c.file(&path("a")).await.unwrap_err();
    assert!(matches!(e, BootError::Unreachable { .. }), "{e}");
    assert!(
        e.to_string().contains(&format!("127.0.0.1:{port}/boot/a")),
        "{e}"
    );
}

/// nginx publishes a PUT by renaming a complete temp file over the old one: readers
/// racing a stream of PUTs of two different 4 MiB files only ever see one of them
/// whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_never_see_half_a_file() {
    let p = Arc::new(Provisioning::started());
    let c = client(&p, &p.password);
    let f = path("big.img");
    let a = vec![b'a'; 4 << 20];
    let b = vec![b'b'; 4 << 20];
    c.put(&f, a.clone()).await.unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (p, done) = (p.clone(), done.clone());
        std::thread::spawn(move || {
            let mut seen = [0; 2];
            while !done.load(Ordering::Relaxed) {
                let body = std::fs::read(p.file("big.img")).unwrap();
                let which = [b'a', b'b'].map(|c| body.iter().all(|&x| x == c));
                assert!(
                    body.len() == 4 << 20 && (which[0] || which[1]),
                    "a reader saw {} bytes, mixed or cut",
                    body.len()
                );
                seen[usize::from(which[1])] += 1;
            }
            seen
        })
    };
    for i in 0..30 {
        let next = if i % 2 == 0 { b.clone() } else { a.clone() };
        c.put(&f, next).await.unwrap();
    }
    done.store(true, Ordering::Relaxed);
    let seen = reader.join().unwrap();
    assert!(
        seen[0] > 0 && seen[1] > 0,
        "the reader did not race the writes: {seen:?}"
    );
}
