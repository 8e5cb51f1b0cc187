# An access port in VLAN "web": one system interface named as the port.
resource "rack_switch_port" "web1" {
  bridge = "br-tor"
  name   = "eth1"
  vlan   = "web" # or rack_switch_vlan.web.name, so the VLAN is created first
}

# An access port by VLAN number.
resource "rack_switch_port" "mgmt" {
  bridge    = "br-tor"
  name      = "eth2"
  vlan_mode = "access"
  tag       = 10
}

# A trunk to the next switch carrying two VLANs.
resource "rack_switch_port" "uplink" {
  bridge    = "br-tor"
  name      = "eth47"
  vlan_mode = "trunk"
  trunks    = [110, 120]
}

# An LACP bond of two links, trunking every VLAN, with native VLAN 10 untagged.
resource "rack_switch_port" "core" {
  bridge       = "br-tor"
  name         = "bond0"
  interfaces   = [{ name = "eth48" }, { name = "eth49" }]
  bond_mode    = "balance-tcp"
  lacp         = "active"
  bond_updelay = 200
  vlan_mode    = "native-untagged"
  tag          = 10
  other_config = { "lacp-time" = "fast" }
}

# A patch port to another bridge (its peer is the patch interface there).
resource "rack_switch_port" "to_hv" {
  bridge     = "br-tor"
  name       = "patch-hv"
  interfaces = [{ name = "patch-hv", type = "patch", options = { peer = "patch-tor" } }]
}
