# Static DHCP leases of a small VM farm on one Kea server: every VM gets a stable MAC
# address derived from its name (provider::rack::mac_address, the same address the VM
# definition uses) and a fixed address, and one bare-metal host boots iPXE over HTTP.

terraform {
  required_providers {
    rack = {
      source = "terraform.local/rack/rack"
    }
  }
}

variable "kea_url" {
  description = "The Kea control agent, e.g. http://10.10.60.2:8000."
  type        = string
}

variable "kea_username" {
  type    = string
  default = "rack"
}

variable "kea_password" {
  type      = string
  sensitive = true
}

variable "subnet" {
  description = "The farm's subnet, as Kea's subnet4 entry has it."
  type        = string
  default     = "10.10.60.0/24"
}

provider "rack" {
  dhcp {
    server "farm" {
      kea {
        url      = var.kea_url
        username = var.kea_username
        password = var.kea_password
      }
    }
  }
}

locals {
  domain = "farm.example"
  router = cidrhost(var.subnet, 1)
  boot   = cidrhost(var.subnet, 2) # TFTP and HTTP boot server

  # VM name => host number in the subnet.
  vms = {
    web1  = 11
    web2  = 12
    db1   = 21
    ldap1 = 31
  }
}

resource "rack_dhcp_lease" "vm" {
  for_each = local.vms

  subnet   = var.subnet
  mac      = provider::rack::mac_address("${each.key}.${local.domain}")
  ip       = cidrhost(var.subnet, each.value)
  hostname = each.key
  options = [
    { name = "routers", data = local.router },
    { name = "domain-name", data = local.domain },
  ]
}

# A bare-metal host whose firmware runs iPXE (or UEFI HTTP boot): it fetches its boot
# script over HTTP straight from the boot-file name. PXE firmware that needs TFTP first
# would get `boot_file = "undionly.kpxe"` here and the URL only once it runs iPXE (a
# Kea client class matching iPXE's user class, named in `client_classes`).
resource "rack_dhcp_lease" "pxe" {
  subnet      = var.subnet
  mac         = provider::rack::mac_address("metal1.${local.domain}")
  ip          = cidrhost(var.subnet, 40)
  hostname    = "metal1"
  next_server = local.boot
  boot_file   = "http://${local.boot}/ipxe/boot.ipxe"
  options = [
    { name = "routers", data = local.router },
    { code = 67, data = "http://${local.boot}/ipxe/boot.ipxe" },
  ]
}

output "leases" {
  description = "MAC address => reserved address."
  value = merge(
    { for k, l in rack_dhcp_lease.vm : l.mac => l.ip },
    { (rack_dhcp_lease.pxe.mac) = rack_dhcp_lease.pxe.ip },
  )
}

output "pxe_mac" {
  value = rack_dhcp_lease.pxe.mac
}
