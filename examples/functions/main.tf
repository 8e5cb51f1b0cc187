# The rack provider functions, with no backend configured: `scripts/up` applies this.

terraform {
  required_providers {
    rack = {
      source = "terraform.local/rack/rack"
    }
  }
}

# A stable MAC address for a VM's interface, derived from its name.
output "vm_mac" {
  value = provider::rack::mac_address("skaro.xivo.vm.farm")
}

# Reverse zones to create on the DNS server for a network.
output "reverse_zone_v4" {
  value = provider::rack::reverse_zone("10.10.0.0/16")
}

output "reverse_zone_v6" {
  value = provider::rack::reverse_zone("2001:db8::/32")
}

# PTR owner names for a host's addresses.
output "ptr_v4" {
  value = provider::rack::ptr_name("10.10.60.2")
}

output "ptr_v6" {
  value = provider::rack::ptr_name("2001:db8::1")
}

# What an apt client needs for the ops repository: a deb822 sources stanza and pins.
output "apt_sources" {
  value = provider::rack::apt_sources("https://apt.example/ops", ["ops-main"], ["main"], "/etc/apt/keyrings/ops.gpg")
}

output "apt_pins" {
  value = provider::rack::apt_pin("*", "ops", "proposed-updates", -1)
}

# DHCP options for switches that bootstrap themselves, for a lease's `options`.
output "ztp_cumulus" {
  value = provider::rack::cumulus_ztp_option("http://10.10.60.2/boot/ztp/tor1.sh")
}

output "ztp_sonic" {
  value = provider::rack::sonic_ztp_option("http://10.10.60.2/boot/ztp/leaf2.json")
}

output "ztp_onie" {
  value = provider::rack::onie_installer_option("http://10.10.60.2/boot/onie/onie-installer-x86_64")
}
