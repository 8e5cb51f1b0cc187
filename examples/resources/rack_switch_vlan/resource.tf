# Named VLANs of a bridge: ports use them by name, so plans read "web" rather than 110.
resource "rack_switch_vlan" "web" {
  bridge      = "br-tor"
  name        = "web"
  tag         = 110
  description = "front-end servers"
}

resource "rack_switch_vlan" "db" {
  bridge = "br-tor"
  name   = "db"
  tag    = 120
}
