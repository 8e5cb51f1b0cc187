# "2.60.10.10.in-addr.arpa."
output "ptr_v4" {
  value = provider::rack::ptr_name("10.10.60.2")
}

# "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."
output "ptr_v6" {
  value = provider::rack::ptr_name("2001:db8::1")
}
