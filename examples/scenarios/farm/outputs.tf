output "vms" {
  description = "Every VM's name, address and MAC address, and the addresses the VM got (from the DHCP server's active leases)."
  value = {
    for name, lease in rack_dhcp_lease.vm : "${name}.${local.zone}" => {
      ip           = lease.ip
      mac          = lease.mac
      ip_addresses = rack_vm.vm[name].network_interface[0].ip_addresses
    }
  }
}

output "reverse_zone" {
  description = "The reverse zone of the farm's network."
  value       = rack_dns_zone.reverse.name
}

output "apt_sources" {
  description = "The farm repository as a deb822 sources stanza, for a client's /etc/apt/sources.list.d/farm.sources."
  value       = provider::rack::apt_sources(var.apt_mirror_url, [rack_apt_publication.farm.distribution], ["main"], var.apt_keyring)
}

output "tor1_ztp" {
  description = "The URL of tor1's zero-touch provisioning script and the DHCP option that names it."
  value = {
    url    = rack_boot_file.tor1_ztp.url
    option = provider::rack::cumulus_ztp_option(rack_boot_file.tor1_ztp.url)
  }
}
