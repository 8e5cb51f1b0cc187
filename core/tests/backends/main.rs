//! Backend tests against the real services, started by the `rack-lab` crate in temp dirs.
//! They fail (never skip) with the name of the missing binary when a service is absent.

// Test helpers too may unwrap: a panic there is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod powerdns;
mod rndc;
mod support;
mod zones;

/// A missing daemon must fail the test with its name and package, never skip it.
#[test]
fn missing_binary_is_named_in_the_error() {
    let e = rack_lab::process::find_binary("rack-no-such-daemon", "rack-no-such-package")
        .unwrap_err()
        .to_string();
    assert!(e.contains("`rack-no-such-daemon` is not installed"), "{e}");
    assert!(e.contains("apt-get install -y rack-no-such-package"), "{e}");
}
