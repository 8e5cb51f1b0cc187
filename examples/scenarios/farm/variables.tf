variable "nameserver" {
  description = "The zones' name server (SOA mname and NS record), outside both zones."
  type        = string
  default     = "ns1.example.net."
}

variable "base_image" {
  description = "A bootable raw disk image on the machine running Terraform, the base of every VM's disk (scripts/up builds one: scripts/build-base-image)."
  type        = string
}
