//! `data "rack_switch"`: a switch's bridges, ports and interfaces with their link state
//! and OpenFlow port numbers, and its named VLANs, from one read.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::shared::{server, snapshot};
use crate::framework::schema::{Attribute, Block, Nesting, Schema};
use crate::framework::typed::{self, Planned};
use crate::framework::{Context, DataSource, Diagnostics, data_answer};
use crate::protocol::value::{Type, Value};

/// The data source.
#[derive(Debug, Clone, Copy, Default)]
pub struct SwitchData;

#[derive(Debug, Deserialize, Serialize)]
struct SwitchModel {
    server: Planned<Option<String>>,
    bridges: Planned<Option<Vec<BridgeData>>>,
}

#[derive(Debug, Deserialize, Serialize)]
struct BridgeData {
    name: String,
    datapath_type: String,
    fail_mode: Option<String>,
    ports: Vec<PortData>,
    vlans: Vec<VlanData>,
}

#[derive(Debug, Deserialize, Serialize)]
struct PortData {
    name: String,
    vlan_mode: Option<String>,
    tag: Option<u16>,
    trunks: Vec<u16>,
    bond_mode: Option<String>,
    interfaces: Vec<InterfaceData>,
}

#[derive(Debug, Deserialize, Serialize)]
struct InterfaceData {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    ofport: Option<i64>,
    link_state: Option<String>,
    admin_state: Option<String>,
    mac_in_use: Option<String>,
    error: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
struct VlanData {
    name: String,
    tag: u16,
    description: String,
}

#[async_trait]
impl DataSource for SwitchData {
    fn type_name(&self) -> &'static str {
        "rack_switch"
    }

    fn schema(&self) -> Schema {
        let interface = [
            Attribute::string("name")
                .computed()
                .description("Its name."),
            Attribute::string("type")
                .computed()
                .description("Its type (`system`, `internal`, `patch`, ...)."),
            Attribute::number("ofport")
                .computed()
                .description("Its OpenFlow port number (-1 when it failed)."),
            Attribute::string("link_state")
                .computed()
                .description("`up` or `down`."),
            Attribute::string("admin_state")
                .computed()
                .description("`up` or `down`."),
            Attribute::string("mac_in_use")
                .computed()
                .description("Its MAC address."),
            Attribute::string("error")
                .computed()
                .description("Why it failed, if it did."),
        ];
        let port = [
            Attribute::string("name")
                .computed()
                .description("Its name."),
            Attribute::string("vlan_mode")
                .computed()
                .description("Its VLAN mode, if set."),
            Attribute::number("tag")
                .computed()
                .description("Its access or native VLAN."),
            Attribute::list("trunks", Type::Number)
                .computed()
                .description("The VLANs it trunks."),
            Attribute::string("bond_mode")
                .computed()
                .description("Its bond mode, for a bond."),
            Attribute::nested("interfaces", Nesting::List, interface)
                .computed()
                .description("Its interfaces."),
        ];
        let vlan = [
            Attribute::string("name")
                .computed()
                .description("Its name."),
            Attribute::number("tag")
                .computed()
                .description("Its VLAN id."),
            Attribute::string("description")
                .computed()
                .description("Its description."),
        ];
        let bridge = [
            Attribute::string("name")
                .computed()
                .description("Its name."),
            Attribute::string("datapath_type")
                .computed()
                .description("`system` or `netdev`."),
            Attribute::string("fail_mode")
                .computed()
                .description("`standalone` or `secure`, if set."),
            Attribute::nested("ports", Nesting::List, port)
                .computed()
                .description("Its ports, its own internal port included, by name."),
            Attribute::nested("vlans", Nesting::List, vlan)
                .computed()
                .description("Its named VLANs (`rack_switch_vlan`)."),
        ];
        Schema::new(
            Block::new(
                "Reads a switch: its bridges, their ports and interfaces with link state and \
                 OpenFlow port numbers, and their named VLANs.",
            )
            .attributes([
                Attribute::string("server").optional().computed().description(
                    "Name of a switch in the provider's `switch` block; the default switch when omitted.",
                ),
                Attribute::nested("bridges", Nesting::List, bridge).computed().description("The bridges, by name."),
            ]),
        )
    }

    async fn read(&self, ctx: &Context, config: Value) -> (Value, Diagnostics) {
        let read = async {
            let mut data: SwitchModel = typed::from_value(&config)?;
            let srv = server(ctx, data.server.value().map(String::as_str))?;
            let snap = snapshot(&srv).await?;
            let bridges = snap
                .bridge_names()
                .into_iter()
                .filter_map(|name| {
                    let b = snap.bridge(&name)?;
                    let ports = b
                        .ports
                        .iter()
                        .filter_map(|p| snap.port(&name, p))
                        .map(|p| PortData {
                            name: p.spec.name.clone(),
                            vlan_mode: p.spec.vlan_mode.clone(),
                            tag: p.spec.tag,
                            trunks: p.spec.trunks.iter().copied().collect(),
                            bond_mode: p.spec.bond_mode.clone(),
                            interfaces: p
                                .interfaces
                                .iter()
                                .map(|i| InterfaceData {
                                    name: i.spec.name.clone(),
                                    kind: i.spec.kind.clone(),
                                    ofport: i.ofport,
                                    link_state: i.link_state.clone(),
                                    admin_state: i.admin_state.clone(),
                                    mac_in_use: i.mac_in_use.clone(),
                                    error: i.error.clone(),
                                })
                                .collect(),
                        })
                        .collect();
                    Some(BridgeData {
                        name,
                        datapath_type: b.spec.datapath_type.clone(),
                        fail_mode: b.spec.fail_mode.clone(),
                        ports,
                        vlans: b
                            .vlans
                            .iter()
                            .map(|v| VlanData {
                                name: v.name.clone(),
                                tag: v.tag,
                                description: v.description.clone(),
                            })
                            .collect(),
                    })
                })
                .collect();
            data.server = Some(srv.name.clone()).into();
            data.bridges = Some(bridges).into();
            Ok(typed::to_value(&data, &self.schema().value_type())?)
        };
        data_answer(read.await)
    }
}
