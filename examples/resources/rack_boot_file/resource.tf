# A switch's zero-touch provisioning script: Cumulus Linux runs it when it carries the
# CUMULUS-AUTOPROVISIONING marker. Its url goes into DHCP option 239.
resource "rack_boot_file" "tor1_ztp" {
  path    = "ztp/tor1.sh"
  content = <<-EOT
    #!/bin/bash
    # CUMULUS-AUTOPROVISIONING
    nv set system hostname tor1
    nv config apply --assume-yes
  EOT
}

# An installer's kernel from a local file. rack hashes the file at plan time, so a new
# file is an update. To pin it, add `sha256 = filesha256(...)` of the same file (or the
# hash the distribution publishes): a file that differs then fails the plan.
resource "rack_boot_file" "kernel" {
  path        = "debian/12/linux"
  source_file = "${path.module}/netboot/linux"
}

# An iPXE script on another provisioning server than the default.
resource "rack_boot_file" "ipxe" {
  server  = "prov2"
  path    = "ipxe/hv1.ipxe"
  content = <<-EOT
    #!ipxe
    kernel ${rack_boot_file.kernel.url} auto=true url=http://prov1.example/boot/preseed/hv1.cfg
    boot
  EOT
}

output "ztp_url" {
  value = rack_boot_file.tor1_ztp.url
}
