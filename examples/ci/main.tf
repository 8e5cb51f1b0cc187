# What the CI pipeline of examples/ci applies: hosts with an A record each in a zone and a
# static DHCP lease each, and for the hosts that `vms` names a VM whose NIC takes the
# host's MAC address (so the lease gives it the host's address). Every address and secret
# of the services comes from the runner's environment (RACK_DNS_*, RACK_DHCP_KEA_*,
# RACK_HYPERVISORS), the state's from PG_CONN_STR.

terraform {
  required_version = ">= 1.14"

  required_providers {
    rack = {
      source = "terraform.local/rack/rack"
    }
  }

  # State in PostgreSQL, locked with an advisory lock while a plan or apply runs. The
  # connection string comes from PG_CONN_STR (never from this file).
  backend "pg" {
    schema_name = "rack_ci"
  }
}

provider "rack" {}

resource "rack_dns_record_set" "host" {
  for_each = var.hosts

  zone    = var.zone
  name    = each.key
  type    = "A"
  ttl     = 300
  records = [each.value.ip]
}

resource "rack_dhcp_lease" "host" {
  for_each = var.hosts

  subnet   = var.subnet
  mac      = each.value.mac
  ip       = each.value.ip
  hostname = each.key
}

# Each VM's disk: a blank copy-on-write volume in the hypervisor's pool `vm_pool`.
resource "rack_volume" "vm" {
  for_each = var.vms

  pool   = var.vm_pool
  name   = "${each.key}.qcow2"
  format = "qcow2"
  size   = each.value.disk
}

resource "rack_vm" "host" {
  for_each = var.vms

  name    = each.key
  type    = each.value.type
  memory  = each.value.memory
  running = each.value.running

  disk {
    pool   = var.vm_pool
    volume = rack_volume.vm[each.key].name
  }

  network_interface {
    network = var.vm_network
    mac     = rack_dhcp_lease.host[each.key].mac
  }
}
