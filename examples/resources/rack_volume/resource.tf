# The golden image, downloaded once and checked against its published SHA-256 (the
# sums here are placeholders: use the ones your images publish, or `sha256sum FILE`).
resource "rack_volume" "debian" {
  hypervisor = "kvm1"
  pool       = "images"
  name       = "debian-12.qcow2"
  source_url = "https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-genericcloud-amd64.qcow2"
  sha256     = "6f2a7c1f1d2e0b0e8a0d0cf0a8e5a8d7c8e1a9f0b2c3d4e5f60718293a4b5c6d"
}

# One copy-on-write overlay per guest: made in milliseconds, grows in place.
resource "rack_volume" "web" {
  for_each = toset(["web1", "web2", "web3"])

  hypervisor  = "kvm1"
  pool        = "images"
  name        = "${each.key}.qcow2"
  base_volume = rack_volume.debian.name
  size        = "20GiB"
}

# A full, independent copy made by the hypervisor.
resource "rack_volume" "db" {
  hypervisor = "kvm1"
  pool       = "images"
  name       = "db.qcow2"
  clone_of   = rack_volume.debian.name
  size       = "100GiB"
}

# An empty raw data disk.
resource "rack_volume" "scratch" {
  hypervisor = "kvm1"
  pool       = "images"
  name       = "scratch.raw"
  format     = "raw"
  size       = "50GiB"
}

# A local image file, checked before anything is sent.
resource "rack_volume" "appliance" {
  hypervisor  = "kvm1"
  pool        = "images"
  name        = "appliance.raw"
  format      = "raw"
  source_file = "images/appliance.raw"
  sha256      = "0d4b3c6e2f5a7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e"
}
