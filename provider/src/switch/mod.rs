//! The switch family: the provider block's `switch` section and its switches (Open
//! vSwitch, over OVSDB), the `rack_switch_bridge`, `rack_switch_port` and
//! `rack_switch_vlan` resources with their list resources, and the `rack_switch` data
//! source. The OVSDB client is `rack_core::ovsdb`'s.

pub mod bridge;
pub mod bridge_list;
pub mod lists;
pub mod port;
pub mod port_list;
pub mod provider_block;
pub mod shared;
pub mod switch_data;
pub mod vlan;
pub mod vlan_list;

use std::sync::Arc;

use crate::config::Family;
use crate::protocol::value::Value;

/// The switch family, as the provider registers it.
pub fn family() -> Family {
    Family {
        blocks: vec![provider_block::block()],
        configure: |config, lookup, diags, clients| {
            let value = config.attr("switch").cloned().unwrap_or(Value::Null);
            clients.insert(provider_block::configure(&value, lookup, diags));
        },
        resources: vec![
            Arc::new(bridge::SwitchBridge),
            Arc::new(port::SwitchPort),
            Arc::new(vlan::SwitchVlan),
        ],
        data_sources: vec![Arc::new(switch_data::SwitchData)],
        list_resources: vec![
            Arc::new(bridge_list::SwitchBridgeList),
            Arc::new(port_list::SwitchPortList),
            Arc::new(vlan_list::SwitchVlanList),
        ],
        ..Family::default()
    }
}
