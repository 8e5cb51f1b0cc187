//! The binary refuses to run without a host.

use crate::common::{TestResult, command};

#[tokio::test]
async fn by_hand_it_prints_one_line_and_exits_1() -> TestResult {
    let out = command().output().await?;
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8(out.stderr)?;
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("not meant to be run by hand"), "{stderr}");
    assert!(stderr.contains("README"), "{stderr}");
    Ok(())
}

#[tokio::test]
async fn a_host_without_protocol_6_is_refused() -> TestResult {
    let out = command()
        .env(
            rack_provider::plugin::MAGIC_COOKIE_KEY,
            rack_provider::plugin::MAGIC_COOKIE_VALUE,
        )
        .env("PLUGIN_PROTOCOL_VERSIONS", "4,5")
        .output()
        .await?;
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8(out.stderr)?;
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("4,5"), "{stderr}");
    Ok(())
}
