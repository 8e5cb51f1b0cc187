//! What the boot acceptance tests share: the provisioning-server fixture (nginx with
//! WebDAV writes under `/boot/`) seen by the provider through `RACK_BOOT_*`.
//!
//! Each test starts its own nginx (about 50 ms): a server shared through a `static`
//! would never be dropped, so nothing would stop it when the test binary exits.

use rack_acceptance_tests::Workdir;
use rack_lab::Provisioning;
use rack_lab::provisioning::USERNAME;

/// The provider block every boot test uses; the server comes from `RACK_BOOT_*`.
pub use rack_acceptance_tests::EMPTY_PROVIDER_CONFIG as PROVIDER;

/// A workdir whose provider writes to `p` as its user, with `password`.
pub fn workdir_with_password(p: &Provisioning, password: &str) -> Workdir {
    let mut wd = Workdir::new();
    wd.set_env("RACK_BOOT_URL", &p.url);
    wd.set_env("RACK_BOOT_USERNAME", USERNAME);
    wd.set_env("RACK_BOOT_PASSWORD", password);
    wd.set_env("RACK_BOOT_TIMEOUT", "20s");
    wd
}

/// A workdir whose provider writes to `p` with the right password.
pub fn workdir(p: &Provisioning) -> Workdir {
    workdir_with_password(p, &p.password)
}

/// What a booting machine gets for `path`: the status and the body.
#[track_caller]
pub fn fetch(p: &Provisioning, path: &str) -> (u16, String) {
    p.get(path)
        .unwrap_or_else(|| panic!("no answer from the provisioning server for {path}"))
}
