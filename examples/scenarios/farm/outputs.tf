output "vms" {
  description = "Every VM's name, address and MAC address."
  value = {
    for name, lease in rack_dhcp_lease.vm : "${name}.${local.zone}" => {
      ip  = lease.ip
      mac = lease.mac
    }
  }
}

output "reverse_zone" {
  description = "The reverse zone of the farm's network."
  value       = rack_dns_zone.reverse.name
}
