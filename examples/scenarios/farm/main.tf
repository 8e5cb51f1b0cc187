# A small VM farm on one KVM hypervisor, its DHCP server, its DNS server and its
# top-of-rack switch: the zone farm. and its reverse zone, a routed network
# 10.10.60.0/24, per VM a static DHCP lease plus A and PTR records, and the switch tor1's
# bridge, VLANs and ports. scripts/up applies this folder against a lab it starts on the
# local machine (see README.md).

terraform {
  required_providers {
    rack = {
      source = "terraform.local/rack/rack"
    }
  }
}

# Every setting comes from the environment, so this folder holds no addresses or
# secrets: RACK_HYPERVISORS, RACK_DNS_* (address, TSIG key, rndc and zone directory for
# creating zones), RACK_DHCP_KEA_* (the Kea control agent) and
# RACK_DHCP_KEA_HOSTS_DATABASE_* (Kea's PostgreSQL host database, where the reservations
# are written), RACK_SWITCH_ADDRESS (the switch tor1's ovsdb-server) and RACK_BOOT_*
# (the provisioning server, where boot files go). scripts/up writes them to
# .state/lab/env.
provider "rack" {}

locals {
  zone         = "farm."
  network      = "10.10.60.0/24"
  gateway      = cidrhost(local.network, 1)
  reverse_zone = provider::rack::reverse_zone(local.network)

  # VM name => host number in the network.
  vms = {
    web1 = 11
    web2 = 12
  }
  addresses = { for name, n in local.vms : name => cidrhost(local.network, n) }

  # The switch's ports to the farm's servers (its links to the hosts behind it).
  switch_hosts = ["host1", "host2"]
}

resource "rack_dns_zone" "farm" {
  name = local.zone
  soa = {
    mname = var.nameserver
    rname = "hostmaster.${local.zone}"
  }
  nameservers = [var.nameserver]
  ttl         = 300
}

resource "rack_dns_zone" "reverse" {
  name = local.reverse_zone
  soa = {
    mname = var.nameserver
    rname = "hostmaster.${local.zone}"
  }
  nameservers = [var.nameserver]
  ttl         = 300
}

# The farm's network: libvirt's bridge holds the gateway address and routes (no NAT).
# libvirt hands out no addresses here: Kea does, from a host plugged into this bridge.
resource "rack_network" "farm" {
  name   = "farm"
  mode   = "route"
  bridge = "rkfarm0"
  ipv4 = {
    cidr    = local.network
    gateway = local.gateway
  }
}

# One reservation per VM, for the MAC address its NIC gets: a row of Kea's host
# database. Naming the network's address range makes Terraform create the bridge first,
# so the DHCP server is reachable on it when the VMs boot.
resource "rack_dhcp_lease" "vm" {
  for_each = local.vms

  subnet   = rack_network.farm.ipv4.cidr
  mac      = provider::rack::mac_address("${each.key}.${local.zone}")
  ip       = local.addresses[each.key]
  hostname = each.key
  options = [
    { name = "routers", data = local.gateway },
    { name = "domain-name", data = trimsuffix(local.zone, ".") },
  ]
}

resource "rack_dns_record_set" "a" {
  for_each = local.addresses

  zone    = rack_dns_zone.farm.name
  name    = each.key
  type    = "A"
  ttl     = 300
  records = [each.value]
}

resource "rack_dns_record_set" "ptr" {
  for_each = local.addresses

  zone    = rack_dns_zone.reverse.name
  name    = provider::rack::ptr_name(each.value)
  type    = "PTR"
  ttl     = 300
  records = ["${each.key}.${local.zone}"]
}

# The farm's disks: a pool, the base image uploaded once, one copy-on-write overlay per
# VM on it.
resource "rack_storage_pool" "farm" {
  name = "farm"
  type = "dir"
  path = "/var/lib/libvirt/images/farm"
}

resource "rack_volume" "base" {
  pool        = rack_storage_pool.farm.name
  name        = "base.raw"
  format      = "raw"
  source_file = var.base_image
  sha256      = filesha256(var.base_image)
}

resource "rack_volume" "vm" {
  for_each = local.vms

  pool        = rack_storage_pool.farm.name
  name        = "${each.key}.qcow2"
  base_volume = rack_volume.base.name
}

# The VMs: each boots from its overlay of the base image (the BIOS runs the boot loader
# on the disk), takes the MAC address its lease reserves, and gets its hostname from
# cloud-init. Every console line goes to a log file on the hypervisor.
resource "rack_vm" "vm" {
  for_each = local.vms

  name   = each.key
  type   = var.domain_type
  vcpus  = 1
  memory = "256MiB"

  disk {
    pool   = rack_storage_pool.farm.name
    volume = rack_volume.vm[each.key].name
    format = "qcow2"
  }

  network_interface {
    network = rack_network.farm.name
    mac     = rack_dhcp_lease.vm[each.key].mac
  }

  console_log = "/var/log/libvirt/qemu/${each.key}.console.log"

  # Apply waits until the VM has its address: with no guest agent and no DHCP on the
  # libvirt network, the DHCP server's active leases report it.
  wait_for_ip {
    timeout = "4m"
  }

  cloud_init {
    meta_data = <<-EOT
      instance-id: ${each.key}-1
      local-hostname: ${each.key}
    EOT
    user_data = <<-EOT
      #cloud-config
      fqdn: ${each.key}.${trimsuffix(local.zone, ".")}
    EOT
  }
}

# The top-of-rack switch tor1 (Open vSwitch, reached over OVSDB): one bridge on the
# userspace datapath, learning like a plain switch; the farm's VLAN and a storage VLAN;
# an access port in the farm's VLAN per server; and the uplink to the farm's bridge,
# which carries the farm's VLAN untagged (the bridge and its gateway know no VLANs) and
# the storage VLAN tagged. rack writes each switch's changes in one OVSDB transaction.
resource "rack_switch_bridge" "tor1" {
  name          = "br-tor1"
  datapath_type = "netdev"
  fail_mode     = "standalone"
}

resource "rack_switch_vlan" "farm" {
  bridge      = rack_switch_bridge.tor1.name
  name        = "farm"
  tag         = 60
  description = "the farm's network, ${local.network}"
}

resource "rack_switch_vlan" "storage" {
  bridge      = rack_switch_bridge.tor1.name
  name        = "storage"
  tag         = 70
  description = "tagged on the uplink only"
}

resource "rack_switch_port" "host" {
  for_each = toset(local.switch_hosts)

  bridge = rack_switch_bridge.tor1.name
  name   = each.key
  vlan   = rack_switch_vlan.farm.name
}

resource "rack_switch_port" "uplink" {
  bridge    = rack_switch_bridge.tor1.name
  name      = "uplink"
  vlan_mode = "native-untagged"
  vlan      = rack_switch_vlan.farm.name
  trunks    = [rack_switch_vlan.farm.tag, rack_switch_vlan.storage.tag]
}

# The zero-touch provisioning script a replacement tor1 would fetch on its first boot
# (Cumulus Linux's ZTP runs it for the marker line), on the provisioning server; its url
# is what the switch's DHCP lease hands out in option 239
# (provider::rack::cumulus_ztp_option).
resource "rack_boot_file" "tor1_ztp" {
  path    = "ztp/tor1.sh"
  content = <<-EOT
    #!/bin/sh
    # CUMULUS-AUTOPROVISIONING
    # tor1: bridge ${rack_switch_bridge.tor1.name}, VLANs ${rack_switch_vlan.farm.tag} and ${rack_switch_vlan.storage.tag}
    echo "tor1 provisioned by rack"
  EOT
}
