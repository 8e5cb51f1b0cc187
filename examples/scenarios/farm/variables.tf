variable "nameserver" {
  description = "The zones' name server (SOA mname and NS record), outside both zones."
  type        = string
  default     = "ns1.example.net."
}

variable "base_image" {
  description = "A bootable raw disk image on the machine running Terraform, the base of every VM's disk (scripts/up builds one: scripts/build-base-image)."
  type        = string
}

variable "domain_type" {
  description = "The VMs' libvirt domain type: `kvm`, or `qemu` (emulation) on a host without hardware virtualisation, as in scripts/up's lab."
  type        = string
  default     = "kvm"
}
