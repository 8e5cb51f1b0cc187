# A pod that installs itself: its top-of-rack switch bootstraps by zero-touch
# provisioning (a script on the provisioning server, named in DHCP option 239), and a
# hypervisor-like machine behind the switch's port swp3 boots iPXE over HTTP and installs
# Debian with a preseed. Its address follows the port (option 82's circuit ID, which the
# switch's relay adds), not its MAC address. Settings come from the environment:
# RACK_BOOT_* (the provisioning server), RACK_DHCP_KEA_* (Kea), RACK_HYPERVISORS.

terraform {
  required_providers {
    rack = {
      source = "terraform.local/rack/rack"
    }
  }
}

provider "rack" {}

variable "mgmt_subnet" {
  description = "The management network the switch boots on."
  type        = string
  default     = "10.20.0.0/24"
}

variable "pod_subnet" {
  description = "The subnet behind the switch's relay (its port addresses' subnet)."
  type        = string
  default     = "10.20.1.0/24"
}

variable "tor_mac" {
  description = "The switch's management MAC address."
  type        = string
  default     = "0c:c4:7a:10:20:30"
}

variable "netboot_dir" {
  description = "Debian's netboot files (debian-installer-12-netboot-amd64): linux and initrd.gz."
  type        = string
  default     = "/usr/lib/debian-installer/images/12/amd64/text/debian-installer/amd64"
}

variable "pod_network" {
  description = "The libvirt network of the pod segment (behind the switch's relay)."
  type        = string
  default     = "pod1"
}

# The switch: Cumulus Linux's ZTP fetches this script and runs it for its marker line.
resource "rack_boot_file" "tor_ztp" {
  path    = "ztp/tor1.sh"
  content = <<-EOT
    #!/bin/bash
    # CUMULUS-AUTOPROVISIONING
    nv set system hostname tor1
    nv set service dhcp-relay default server 10.20.0.2
    nv set service dhcp-relay default interface swp1-48
    nv config apply --assume-yes
  EOT
}

resource "rack_dhcp_lease" "tor" {
  subnet   = var.mgmt_subnet
  mac      = var.tor_mac
  ip       = cidrhost(var.mgmt_subnet, 11)
  hostname = "tor1"
  options = [
    provider::rack::cumulus_ztp_option(rack_boot_file.tor_ztp.url),
  ]
}

# The installer: kernel and initrd from Debian's netboot package, the preseed, and the
# iPXE script that ties them together.
resource "rack_boot_file" "kernel" {
  path        = "debian/12/linux"
  source_file = "${var.netboot_dir}/linux"
}

resource "rack_boot_file" "initrd" {
  path        = "debian/12/initrd.gz"
  source_file = "${var.netboot_dir}/initrd.gz"
}

resource "rack_boot_file" "preseed" {
  path    = "preseed/hv1.cfg"
  content = <<-EOT
    d-i debian-installer/locale string en_US.UTF-8
    d-i keyboard-configuration/xkb-keymap select us
    d-i netcfg/get_hostname string hv1
    d-i mirror/http/hostname string deb.debian.org
    d-i mirror/http/directory string /debian
    d-i partman-auto/method string regular
    d-i partman/confirm boolean true
    d-i pkgsel/include string qemu-system-x86 libvirt-daemon-system
  EOT
}

resource "rack_boot_file" "ipxe" {
  path    = "ipxe/hv1.ipxe"
  content = <<-EOT
    #!ipxe
    kernel ${rack_boot_file.kernel.url} auto=true priority=critical url=${rack_boot_file.preseed.url}
    initrd ${rack_boot_file.initrd.url}
    boot
  EOT
}

# Whatever machine is plugged into swp3 gets this address and boots the installer: the
# lease is keyed by the relay's circuit ID, not by a MAC address to track.
resource "rack_dhcp_lease" "hv1" {
  subnet     = var.pod_subnet
  circuit_id = "swp3"
  ip         = cidrhost(var.pod_subnet, 13)
  hostname   = "hv1"
  options = [
    { name = "boot-file-name", data = rack_boot_file.ipxe.url },
  ]
}

# A stand-in for the hypervisor: a VM with no disk that boots from the network.
resource "rack_vm" "hv1" {
  name   = "hv1"
  type   = "qemu"
  vcpus  = 1
  memory = "512MiB"
  boot   = ["network"]

  network_interface {
    network = var.pod_network
  }

  console_log = "/var/log/libvirt/qemu/hv1.console.log"
}

output "urls" {
  value = {
    ztp     = rack_boot_file.tor_ztp.url
    ipxe    = rack_boot_file.ipxe.url
    preseed = rack_boot_file.preseed.url
  }
}
