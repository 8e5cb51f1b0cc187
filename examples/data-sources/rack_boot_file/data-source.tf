# A file on the provisioning server, as a booting machine fetches it.
data "rack_boot_file" "preseed" {
  path = "preseed/hv1.cfg"
}

output "preseed_sha256" {
  value = data.rack_boot_file.preseed.sha256
}
