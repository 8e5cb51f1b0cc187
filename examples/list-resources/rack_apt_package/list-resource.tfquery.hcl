# The packages of repository `ops` on the default aptly server whose version is 1.1 or
# later. `terraform query -generate-config-out=generated.tf` writes a resource and an
# import block for each; source_file is write-only, so add each package's .deb path
# (`source_file = "debs/hello_1.1_amd64.deb"`) to the generated configuration before
# `terraform apply` imports them.
list "rack_apt_package" "ops" {
  provider = rack

  config {
    repository = "ops"
    query      = "$Version (>= 1.1)"
  }
}
