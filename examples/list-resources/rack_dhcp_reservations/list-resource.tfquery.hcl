# Subnet 10.10.60.0/24 of the default DHCP server as one rack_dhcp_reservations holding
# all its reservations, ready to adopt with
# `terraform query -generate-config-out=generated.tf` and `terraform apply`.
list "rack_dhcp_reservations" "farm" {
  provider = rack

  config {
    subnet = "10.10.60.0/24"
  }
}
