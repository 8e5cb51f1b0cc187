# A pod that installs itself: its top-of-rack switch bootstraps by zero-touch
# provisioning (a script on the provisioning server, named in DHCP option 239) and gets
# its management address by the port it is plugged into (option 82's circuit ID, which
# the upstream relay adds), not by its MAC address. A hypervisor-like machine on the pod
# segment boots iPXE over HTTP from its NIC's ROM and installs Debian with a preseed.
# Settings come from the environment: RACK_BOOT_* (the provisioning server),
# RACK_DHCP_KEA_* (Kea), RACK_HYPERVISORS.

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

variable "tor_port" {
  description = "The port of the upstream relay the switch's management interface is plugged into (the circuit ID the relay adds)."
  type        = string
  default     = "swp1"
}

variable "netboot_dir" {
  description = "Debian's netboot files (debian-installer-12-netboot-amd64): linux and initrd.gz."
  type        = string
  default     = "/usr/lib/debian-installer/images/12/amd64/text/debian-installer/amd64"
}

variable "pod_network" {
  description = "The libvirt network of the pod segment: a bridge without libvirt's DHCP, where Kea serves pod_subnet."
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

# Whatever switch is plugged into that port gets this address and runs the script: the
# lease is keyed by the relay's circuit ID, not by a MAC address to track.
resource "rack_dhcp_lease" "tor" {
  subnet     = var.mgmt_subnet
  circuit_id = var.tor_port
  ip         = cidrhost(var.mgmt_subnet, 11)
  hostname   = "tor1"
  options = [
    provider::rack::cumulus_ztp_option(rack_boot_file.tor_ztp.url),
    { name = "routers", data = cidrhost(var.mgmt_subnet, 1) },
  ]
}

# The installer: kernel and initrd from Debian's netboot package, the preseed, and the
# iPXE script that ties them together. The script passes the preseed's URL on the
# kernel command line, where the installer (`url=`) fetches it once it has its address.
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
    kernel ${rack_boot_file.kernel.url} console=ttyS0 auto=true priority=critical url=${rack_boot_file.preseed.url}
    initrd ${rack_boot_file.initrd.url}
    boot
  EOT
}

# The machine's lease: its address, and the iPXE script's URL as its boot file, which
# the iPXE ROM of its NIC chains to. The MAC address is the one rack derives for the
# VM's first interface, known before the VM exists.
resource "rack_dhcp_lease" "hv1" {
  subnet    = var.pod_subnet
  mac       = provider::rack::mac_address("hv1/0")
  ip        = cidrhost(var.pod_subnet, 13)
  hostname  = "hv1"
  boot_file = rack_boot_file.ipxe.url
}

# A stand-in for the hypervisor: a VM with no disk that boots from the network (QEMU's
# iPXE ROM for the e1000 NIC, from Debian's ipxe-qemu). It starts once its lease and
# boot files are in place, and the apply waits until Kea has leased it its address.
resource "rack_vm" "hv1" {
  name   = "hv1"
  type   = "qemu"
  vcpus  = 1
  memory = "512MiB"
  boot   = ["network"]

  network_interface {
    network = var.pod_network
    model   = "e1000"
  }

  console_log = "/var/log/libvirt/qemu/hv1.console.log"

  wait_for_ip {
    source  = "dhcp"
    timeout = "5m"
  }

  depends_on = [rack_dhcp_lease.hv1, rack_boot_file.ipxe]
}

output "hv1_ip" {
  value = rack_vm.hv1.network_interface[0].ip_addresses
}

output "urls" {
  value = {
    ztp     = rack_boot_file.tor_ztp.url
    ipxe    = rack_boot_file.ipxe.url
    preseed = rack_boot_file.preseed.url
  }
}
