# The current address of a machine, from the server's active leases.
data "rack_dhcp_leases" "web1" {
  mac = provider::rack::mac_address("web1.farm.example")
}

# Every active lease of a subnet.
data "rack_dhcp_leases" "farm" {
  subnet = "10.10.60.0/24"
}

output "web1_address" {
  value = one(data.rack_dhcp_leases.web1.leases[*].ip)
}

output "farm_addresses" {
  value = { for l in data.rack_dhcp_leases.farm.leases : l.ip => l.hostname }
}
