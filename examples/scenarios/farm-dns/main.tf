# The DNS of a small VM farm: the forward zone farm. and its reverse zone for
# 10.10.60.0/24, kept on one DNS server with TSIG-signed dynamic updates.

terraform {
  required_providers {
    rack = {
      source = "terraform.local/rack/rack"
    }
  }
}

provider "rack" {
  dns {
    server "primary" {
      address       = var.dns_address
      key_name      = var.tsig_key_name
      key_algorithm = var.tsig_key_algorithm
      key_secret    = var.tsig_key_secret
    }
  }
}

locals {
  zone         = "farm."
  network      = "10.10.60.0/24"
  reverse_zone = provider::rack::reverse_zone(local.network)

  # One A record and one PTR record per host.
  hosts = {
    gw    = "10.10.60.1"
    web1  = "10.10.60.11"
    web2  = "10.10.60.12"
    mail  = "10.10.60.25"
    ldap1 = "10.10.60.31"
    ldap2 = "10.10.60.32"
  }
}

resource "rack_dns_record_set" "host" {
  for_each = local.hosts

  zone    = local.zone
  name    = each.key
  type    = "A"
  ttl     = 300
  records = [each.value]
}

resource "rack_dns_record_set" "ptr" {
  for_each = local.hosts

  zone    = local.reverse_zone
  name    = provider::rack::ptr_name(each.value)
  type    = "PTR"
  ttl     = 300
  records = ["${each.key}.${local.zone}"]
}

# The web service answers on both web hosts; www is an alias.
resource "rack_dns_record_set" "web" {
  zone    = local.zone
  name    = "web"
  type    = "A"
  ttl     = 300
  records = [local.hosts.web1, local.hosts.web2]
}

resource "rack_dns_record_set" "www" {
  zone    = local.zone
  name    = "www"
  type    = "CNAME"
  records = ["web"]

  depends_on = [rack_dns_record_set.web]
}

# Mail for the zone. The server checks that an MX target has an address, so the host
# records come first.
resource "rack_dns_record_set" "mx" {
  zone    = local.zone
  name    = "@"
  type    = "MX"
  records = ["10 mail"]

  depends_on = [rack_dns_record_set.host]
}

resource "rack_dns_record_set" "spf" {
  zone    = local.zone
  name    = "@"
  type    = "TXT"
  records = ["\"v=spf1 mx -all\""]
}

# Clients find the directory servers through SRV records.
resource "rack_dns_record_set" "ldap" {
  zone    = local.zone
  name    = "_ldap._tcp"
  type    = "SRV"
  records = ["0 50 389 ldap1", "0 50 389 ldap2"]

  depends_on = [rack_dns_record_set.host]
}

output "hosts" {
  description = "Every host's name and address."
  value       = { for name, rr in rack_dns_record_set.host : rr.fqdn => one(rr.records) }
}

output "reverse_zone" {
  description = "The reverse zone of the farm's network."
  value       = local.reverse_zone
}
