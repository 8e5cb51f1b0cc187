# Every port of bridge br-tor on the default switch, made by rack or by hand.
# `terraform query -generate-config-out=generated.tf` writes a resource and an import
# block for each, ready to adopt with `terraform apply`.
list "rack_switch_port" "tor" {
  provider = rack

  config {
    bridge = "br-tor"
  }
}
