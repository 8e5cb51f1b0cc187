# Every volume of storage pool "images" on the default hypervisor: one listing of the
# pool. Generated configuration describes each as an empty volume of its size, or as an
# overlay of its base volume; libvirt cannot tell what content it was filled with.
list "rack_volume" "images" {
  provider = rack

  config {
    pool = "images"
  }
}
