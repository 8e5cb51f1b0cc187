# A routed network for a VM farm: libvirt's bridge gets 10.10.60.1, dnsmasq hands out
# .100-.199 and answers for farm.dc1.example.net itself.
resource "rack_network" "farm" {
  hypervisor = "kvm1"
  name       = "farm"
  mode       = "route"
  bridge     = "virbr-farm"

  ipv4 = {
    cidr        = "10.10.60.0/24"
    dhcp_ranges = [{ start = "10.10.60.100", end = "10.10.60.199" }]
  }
  ipv6 = {
    cidr = "fd10:60::/64"
  }

  domain         = "farm.dc1.example.net"
  dns_local_only = true
}

# Guests joined to an existing host bridge (no addresses, DHCP or DNS from libvirt).
resource "rack_network" "lan" {
  hypervisor = "kvm1"
  name       = "lan"
  mode       = "bridge"
  bridge     = "br0"
}
