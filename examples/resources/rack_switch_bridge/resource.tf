# A top-of-rack bridge on the userspace datapath, learning like a plain switch.
resource "rack_switch_bridge" "tor" {
  server        = "tor1" # a switch of the provider's switch block; the default if omitted
  name          = "br-tor"
  datapath_type = "netdev"
  fail_mode     = "standalone"
  stp_enable    = false
}
