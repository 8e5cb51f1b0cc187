# Every record set of a zone, by one signed zone transfer.
data "rack_dns_zone" "farm" {
  name = "farm."
}

output "farm_serial" {
  value = data.rack_dns_zone.farm.serial
}

# The A record sets of the zone, by absolute name.
output "farm_addresses" {
  value = {
    for s in data.rack_dns_zone.farm.record_sets : s.fqdn => s.records if s.type == "A"
  }
}
