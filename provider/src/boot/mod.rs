//! The boot family: the provider block's `boot` section and its provisioning servers
//! (HTTP with WebDAV writes), the `rack_boot_file` resource, data source and list
//! resource. The client is `rack_core::boot`'s.
//!
//! WebDAV as nginx offers it has no listing (no PROPFIND): the list resource walks the
//! server's directories through nginx's JSON `autoindex` listings instead.

pub mod file;
pub mod file_data;
pub mod file_list;
pub mod provider_block;
pub mod shared;

use std::sync::Arc;

use crate::config::Family;
use crate::protocol::value::Value;

/// The boot family, as the provider registers it.
pub fn family() -> Family {
    Family {
        blocks: vec![provider_block::block()],
        configure: |config, lookup, diags, clients| {
            let value = config.attr("boot").cloned().unwrap_or(Value::Null);
            clients.insert(provider_block::configure(&value, lookup, diags));
        },
        resources: vec![Arc::new(file::BootFile)],
        data_sources: vec![Arc::new(file_data::BootFileData)],
        list_resources: vec![Arc::new(file_list::BootFileList)],
        ..Family::default()
    }
}
