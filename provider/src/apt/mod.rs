//! The apt family: the provider block's `apt` section and its aptly servers, the
//! `rack_apt_repository`, `rack_apt_package`, `rack_apt_snapshot` and
//! `rack_apt_publication` resources with their list resources, and the `rack_apt_packages`
//! data source. The aptly client is `rack_core::apt`'s.

pub mod lists;
pub mod package;
pub mod package_list;
pub mod packages_data;
pub mod provider_block;
pub mod publication;
pub mod repository;
pub mod shared;
pub mod snapshot;

use std::sync::Arc;

use crate::config::Family;
use crate::protocol::value::Value;

/// The apt family, as the provider registers it.
pub fn family() -> Family {
    Family {
        blocks: vec![provider_block::block()],
        configure: |config, lookup, diags, clients| {
            let value = config.attr("apt").cloned().unwrap_or(Value::Null);
            clients.insert(provider_block::configure(&value, lookup, diags));
        },
        resources: vec![
            Arc::new(repository::AptRepository),
            Arc::new(package::AptPackage),
            Arc::new(snapshot::AptSnapshot),
            Arc::new(publication::AptPublication),
        ],
        data_sources: vec![Arc::new(packages_data::AptPackagesData)],
        list_resources: vec![
            Arc::new(lists::AptRepositoryList),
            Arc::new(package_list::AptPackageList),
            Arc::new(lists::AptSnapshotList),
            Arc::new(lists::AptPublicationList),
        ],
        ..Family::default()
    }
}
