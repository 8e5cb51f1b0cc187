# A zone's worth of address and reverse records as two resources: one map entry per
# record set, keyed "<name>/<TYPE>". 250 hosts plan and apply as two resources, not 500.
locals {
  hosts = { for i in range(1, 251) : "node${i}" => cidrhost("10.10.0.0/16", 256 + i) }
}

resource "rack_dns_records" "forward" {
  zone        = "farm."
  default_ttl = 300
  records = merge(
    { for name, ip in local.hosts : "${name}/A" => { records = [ip] } },
    {
      "@/MX"   = { records = ["10 mail"] }
      "mail/A" = { ttl = 3600, records = ["10.10.0.25"] }
    },
  )
}

resource "rack_dns_records" "reverse" {
  zone = "10.10.in-addr.arpa."
  records = {
    for name, ip in local.hosts :
    "${trimsuffix(provider::rack::ptr_name(ip), ".10.10.in-addr.arpa.")}/PTR" => {
      records = ["${name}.farm."]
    }
  }
}
