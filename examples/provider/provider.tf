terraform {
  required_providers {
    rack = {
      source = "terraform.local/rack/rack"
    }
  }
}

# Backend settings (DNS, DHCP, libvirt, ...) are added here as the provider grows; every
# setting can also come from an environment variable.
provider "rack" {}
