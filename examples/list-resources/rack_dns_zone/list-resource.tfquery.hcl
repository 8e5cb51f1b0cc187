# Every zone of DNS server "primary" that rack can manage (on BIND: the zone files in its
# zone_directory that named serves). `terraform query -generate-config-out=generated.tf`
# writes a rack_dns_zone and an import block for each; list "rack_dns_record_set" then
# adopts their records.
list "rack_dns_zone" "primary" {
  provider = rack

  config {
    server = "primary"
  }
}
