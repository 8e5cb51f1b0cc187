# A golden image managed elsewhere, and overlays on it.
data "rack_volume" "golden" {
  hypervisor = "kvm1"
  pool       = "golden"
  name       = "debian-12.qcow2"
}

resource "rack_volume" "vm" {
  hypervisor  = "kvm1"
  pool        = "images"
  name        = "vm.qcow2"
  base_volume = "golden/${data.rack_volume.golden.name}"
}

output "golden_size" {
  value = data.rack_volume.golden.size
}
