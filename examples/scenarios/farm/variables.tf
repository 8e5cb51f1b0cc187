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

variable "apt_package" {
  description = "A .deb on the machine running Terraform for the farm's repository (scripts/up builds one with dpkg-deb)."
  type        = string
}

variable "apt_key_id" {
  description = "The signing key's ID in aptly's keyring (the lab's: lab/aptly/key_id)."
  type        = string
}

variable "apt_passphrase_file" {
  description = "The path, on the aptly host, of the file holding the signing key's passphrase."
  type        = string
}

variable "apt_mirror_url" {
  description = "The URL apt clients fetch the published tree from."
  type        = string
  default     = "http://127.0.0.1:10080/"
}

variable "apt_keyring" {
  description = "The client's path of the repository's public keyring."
  type        = string
  default     = "/etc/apt/keyrings/rack-lab.gpg"
}
