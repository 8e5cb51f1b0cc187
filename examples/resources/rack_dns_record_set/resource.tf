# An address record set; the name is relative to the zone.
resource "rack_dns_record_set" "web" {
  zone    = "farm."
  name    = "web"
  type    = "A"
  ttl     = 300
  records = ["10.10.60.11", "10.10.60.12"]
}

# Mail for the zone itself: "@" is the apex, and "mail" means mail.farm.
resource "rack_dns_record_set" "mx" {
  zone    = "farm."
  name    = "@"
  type    = "MX"
  records = ["10 mail", "20 mail2.farm."]
}

# TXT data in zone-file syntax: each element is one record, quotes included.
resource "rack_dns_record_set" "spf" {
  zone    = "farm."
  name    = "@"
  type    = "TXT"
  records = ["\"v=spf1 mx -all\""]
}

# The PTR record of 10.10.60.11 in its reverse zone, both named by the provider functions.
resource "rack_dns_record_set" "web_ptr" {
  zone    = provider::rack::reverse_zone("10.10.60.0/24")
  name    = provider::rack::ptr_name("10.10.60.11")
  type    = "PTR"
  records = ["web.farm."]
}
