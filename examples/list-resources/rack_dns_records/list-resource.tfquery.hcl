# Zone farm. as one rack_dns_records holding all its record sets, ready to adopt with
# `terraform query -generate-config-out=generated.tf` and `terraform apply`.
list "rack_dns_records" "farm" {
  provider = rack

  config {
    zone = "farm."
  }
}
