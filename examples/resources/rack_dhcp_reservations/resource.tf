# A rack's worth of static leases as one resource: one map entry per client, keyed by
# its MAC address. 200 nodes plan and apply as one resource, not 200.
locals {
  nodes = { for i in range(1, 201) : "node${i}" => i }
}

resource "rack_dhcp_reservations" "farm" {
  subnet = "10.10.60.0/24"
  reservations = merge(
    {
      for name, i in local.nodes : provider::rack::mac_address("${name}.farm.example") => {
        ip       = cidrhost("10.10.60.0/24", 20 + i)
        hostname = name
        options  = [{ name = "routers", data = "10.10.60.1" }]
      }
    },
    {
      # A PXE host, an appliance known by its client identifier (option 61), and
      # whatever is plugged into port swp7 behind the relay (its circuit ID, option 82).
      "52:54:00:aa:00:01" = {
        ip          = "10.10.60.240"
        next_server = "10.10.60.2"
        boot_file   = "pxelinux.0"
      }
      "client-id:01:52:54:00:aa:00:02" = { ip = "10.10.60.241", hostname = "appliance" }
      "circuit-id:swp7"                = { ip = "10.10.60.242", hostname = "rack7-u1" }
    },
  )
}

# Reservations of the same subnet in rack_dhcp_lease resources, or made by hand, are left
# alone: each resource owns only its keys (keep each client in one place).
resource "rack_dhcp_lease" "gateway_console" {
  subnet = "10.10.60.0/24"
  mac    = "0c:c4:7a:10:20:30"
  ip     = "10.10.60.250"
}
