# Every reservation of 10.10.60.0/24 on the default DHCP server, made by rack or by hand.
# `terraform query -generate-config-out=generated.tf` writes a resource and an import
# block for each, ready to adopt with `terraform apply`.
list "rack_dhcp_lease" "farm" {
  provider = rack

  config {
    subnet = "10.10.60.0/24"
  }
}
