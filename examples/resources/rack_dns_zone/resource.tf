# The server "primary" is defined in the provider's dns block with `rndc` (BIND) or
# `powerdns` zone management; see the provider documentation.
resource "rack_dns_zone" "lab" {
  server = "primary"
  name   = "lab.example.net."

  soa = {
    mname   = "ns1.example.net."
    rname   = "hostmaster.example.net." # hostmaster@example.net
    refresh = 3600
    retry   = 600
    expire  = 1209600
    minimum = 300
  }

  # Name servers outside the zone: rack creates no address records for them.
  nameservers = ["ns1.example.net.", "ns2.example.net."]
  ttl         = 3600
}

# Record sets that name the zone through the resource are created after it and
# destroyed before it.
resource "rack_dns_record_set" "web" {
  server  = rack_dns_zone.lab.server
  zone    = rack_dns_zone.lab.name
  name    = "web"
  type    = "A"
  records = ["10.10.60.2"]
}
