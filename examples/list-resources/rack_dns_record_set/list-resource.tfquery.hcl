# Every record set of farm. except its SOA and apex NS records.
# `terraform query` lists them; `terraform query -generate-config-out=generated.tf`
# writes a resource and an import block for each, ready to adopt with `terraform apply`.
list "rack_dns_record_set" "farm" {
  provider = rack

  config {
    zone = "farm."
  }
}
