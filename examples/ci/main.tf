# What the CI pipeline of examples/ci applies: hosts with an A record each in a zone and a
# static DHCP lease each. Every address and secret of the services comes from the runner's
# environment (RACK_DNS_*, RACK_DHCP_KEA_*), the state's from PG_CONN_STR.

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
