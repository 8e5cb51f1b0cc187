# "10.10.in-addr.arpa."
output "reverse_zone_v4" {
  value = provider::rack::reverse_zone("10.10.0.0/16")
}

# "8.b.d.0.1.0.0.2.ip6.arpa."
output "reverse_zone_v6" {
  value = provider::rack::reverse_zone("2001:db8::/32")
}
