locals {
  vm_name = "skaro.xivo.vm.farm"
}

# The same name always gives the same locally usable MAC address (52:54:00:4e:aa:a2 here),
# so a VM rebuilt from scratch keeps its DHCP reservation.
output "vm_mac" {
  value = provider::rack::mac_address(local.vm_name)
}
