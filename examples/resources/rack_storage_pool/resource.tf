# A directory pool for guest disks; rack creates the directory if it is missing.
resource "rack_storage_pool" "images" {
  hypervisor = "kvm1"
  name       = "images"
  type       = "dir"
  path       = "/var/lib/libvirt/images/farm"
}

# An LVM volume group built on a spare disk (pvcreate + vgcreate); without `devices`
# the volume group must exist already.
resource "rack_storage_pool" "fast" {
  hypervisor   = "kvm1"
  name         = "fast"
  type         = "logical"
  volume_group = "vg_fast"
  devices      = ["/dev/sdb"]
}
