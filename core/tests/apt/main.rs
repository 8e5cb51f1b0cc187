//! The aptly client against a real aptly 1.5 behind nginx (the `rack-lab` fixture).

// Test helpers too may unwrap: a panic there is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use rack_core::apt::{
    AptError, AptlyClient, AptlyConfig, NewPublication, PackageSource, Repo, Signing, Source,
};
use rack_core::kea::Secret;
use rack_lab::Aptly;
use rack_lab::aptly::build_deb;
use sha2::{Digest, Sha256};

fn client(aptly: &Aptly) -> AptlyClient {
    let mut config = AptlyConfig::new(&aptly.url);
    config.username = Some(aptly.username.clone());
    config.password = Some(Secret::new(&aptly.password));
    config.ca_cert_pem = aptly
        .ca_cert
        .as_ref()
        .map(|p| std::fs::read_to_string(p).unwrap());
    AptlyClient::new(config).unwrap()
}

fn signing(aptly: &Aptly) -> Signing {
    Signing {
        skip: false,
        key_id: Some(aptly.key.key_id.clone()),
        passphrase_file: Some(aptly.key.passphrase_file.display().to_string()),
    }
}

#[tokio::test]
async fn upload_snapshot_publish_switch_and_drop() {
    let aptly = Aptly::start_tls().unwrap_or_else(|e| panic!("cannot start aptly: {e}"));
    let c = client(&aptly);
    assert!(c.version().await.unwrap().starts_with("1.5"));

    c.create_repo(&Repo {
        name: "main".into(),
        comment: "ops".into(),
        ..Repo::default()
    })
    .await
    .unwrap();
    let debs = tempfile_dir();
    let mut keys = Vec::new();
    for v in ["1.0", "1.1"] {
        let deb = build_deb(&debs, "hello", v, "amd64").unwrap();
        let bytes = std::fs::read(&deb).unwrap();
        let sha = hex(&Sha256::digest(&bytes));
        let file = deb.file_name().unwrap().to_str().unwrap();
        let p = c.add_package("main", file, bytes, &sha).await.unwrap();
        assert_eq!((p.name.as_str(), p.version.as_str()), ("hello", v));
        assert_eq!(p.sha256, sha);
        keys.push(p.key);
    }
    // A file that is not a .deb: aptly answers 200 and lists it as failed.
    let e = c
        .add_package("main", "bad.deb", b"not a deb".to_vec(), "00")
        .await
        .unwrap_err();
    assert!(matches!(e, AptError::FailedFiles { .. }), "{e}");
    assert!(e.to_string().contains("bad.deb"), "{e}");
    // Files that arrive together go in one upload and one add; a bad one among them
    // fails alone.
    let mut batch = Vec::new();
    for i in 0..12 {
        let deb = build_deb(&debs, &format!("many{i:02}"), "1.0", "amd64").unwrap();
        let bytes = std::fs::read(&deb).unwrap();
        let sha = hex(&Sha256::digest(&bytes));
        let file = deb.file_name().unwrap().to_str().unwrap().to_owned();
        batch.push((file, bytes, sha));
    }
    batch.push(("bad2.deb".into(), b"not a deb either".to_vec(), "00".into()));
    let before = c.calls_made();
    let adds = batch
        .iter()
        .map(|(file, bytes, sha)| c.add_package("main", file, bytes.clone(), sha));
    let results = futures::future::join_all(adds).await;
    let calls = c.calls_made() - before;
    for (result, (file, _, sha)) in results.iter().zip(&batch) {
        match result {
            Ok(p) => assert_eq!(&p.sha256, sha, "{file}"),
            Err(e) => {
                assert_eq!(file, "bad2.deb", "{e}");
                assert!(matches!(e, AptError::FailedFiles { .. }), "{e}");
            }
        }
    }
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 12);
    // The first file goes alone, the other twelve wait for it and go together: two
    // rounds of upload, add, cleanup and listing.
    assert!(calls <= 8, "{calls} requests for 13 files");
    let removed: Vec<String> = results.into_iter().flatten().map(|p| p.key).collect();
    c.remove_packages("main", &removed).await.unwrap();
    // The upload directories are gone again.
    let uploads = aptly.root.join("upload");
    let left: Vec<_> = std::fs::read_dir(&uploads)
        .map(|rd| rd.flatten().collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");

    // One listing serves every read of the repository.
    c.invalidate().await;
    let before = c.calls_made();
    for _ in 0..20 {
        assert_eq!(
            c.packages(PackageSource::Repo("main")).await.unwrap().len(),
            2
        );
    }
    assert_eq!(c.calls_made() - before, 1);

    // Listings read ahead are the ones the reads then use: one request each.
    c.invalidate().await;
    let before = c.calls_made();
    c.read_repo_packages_ahead("main");
    c.read_ahead();
    c.read_ahead();
    assert_eq!(
        c.packages(PackageSource::Repo("main")).await.unwrap().len(),
        2
    );
    assert!(c.snapshots().await.unwrap().is_empty());
    assert!(c.publications().await.unwrap().is_empty());
    assert_eq!(c.calls_made() - before, 3);

    c.snapshot_repo("main", "main-a", "").await.unwrap();
    c.snapshot_packages("main-b", "", &["main-a".into()], &keys[..1])
        .await
        .unwrap();
    let found = c
        .query(
            PackageSource::Snapshot("main-a"),
            "Name (hello), $Version (>= 1.1)",
        )
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].version, "1.1");

    let p = c
        .publish(&NewPublication {
            prefix: ".".into(),
            distribution: "stable".into(),
            source_kind: "snapshot".into(),
            sources: vec![Source {
                component: "profile/appserver".into(),
                name: "main-b".into(),
            }],
            architectures: vec!["amd64".into()],
            origin: "rack".into(),
            acquire_by_hash: true,
            signing: signing(&aptly),
            ..NewPublication::default()
        })
        .await
        .unwrap();
    assert_eq!(p.components()["profile/appserver"], "main-b");
    let in_release = aptly.public_dir().join("dists/stable/InRelease");
    let text = std::fs::read_to_string(&in_release).unwrap();
    assert!(text.contains("BEGIN PGP SIGNED MESSAGE"), "{text}");

    let switched = c
        .switch(
            ".",
            "stable",
            Some(&[Source {
                component: "profile/appserver".into(),
                name: "main-a".into(),
            }]),
            true,
            &signing(&aptly),
        )
        .await
        .unwrap();
    assert_eq!(switched.components()["profile/appserver"], "main-a");
    // A published snapshot cannot be dropped.
    let e = c.delete_snapshot("main-a").await.unwrap_err();
    assert!(e.is_conflict(), "{e}");

    assert!(c.unpublish(".", "stable").await.unwrap());
    assert!(!c.unpublish(".", "stable").await.unwrap());
    assert!(c.delete_snapshot("main-b").await.unwrap());
    assert!(c.delete_snapshot("main-a").await.unwrap());
    assert!(c.delete_repo("main").await.unwrap());
    assert!(!c.delete_repo("main").await.unwrap());
    assert!(c.repos().await.unwrap().is_empty());
    let _ = std::fs::remove_dir_all(&debs);
}

#[tokio::test]
async fn wrong_credentials_are_refused() {
    let aptly = Aptly::started();
    let mut config = AptlyConfig::new(&aptly.url);
    config.username = Some(aptly.username.clone());
    config.password = Some(Secret::new("wrong"));
    let e = AptlyClient::new(config).unwrap().repos().await.unwrap_err();
    assert!(
        matches!(e, AptError::AuthRefused { status: 401, .. }),
        "{e}"
    );
}

fn tempfile_dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("rack-apt-debs-{}", rack_core::apt::token()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
