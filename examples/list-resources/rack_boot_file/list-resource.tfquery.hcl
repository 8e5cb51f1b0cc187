# Every file below `ztp/` on the default provisioning server, found through its JSON
# directory listings (nginx: `autoindex on; autoindex_format json;`). Text files come
# with their content; binary ones (kernels, initrds) with their sha256 only: give them a
# source_file in the generated configuration.
list "rack_boot_file" "ztp" {
  provider = rack

  config {
    directory = "ztp"
  }
}
