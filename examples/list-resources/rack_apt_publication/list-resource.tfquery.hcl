# Every publication of the default aptly server, made by rack or by hand.
# `terraform query -generate-config-out=generated.tf` writes a resource and an import
# block for each, ready to adopt with `terraform apply`.
list "rack_apt_publication" "all" {
  provider = rack
}
