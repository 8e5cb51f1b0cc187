variable "zone" {
  description = "The DNS zone the hosts' A records go in."
  type        = string
  default     = "farm."
}

variable "subnet" {
  description = "The DHCP subnet of the hosts' leases."
  type        = string
  default     = "10.10.60.0/24"
}

variable "hosts" {
  description = "The hosts by name: their address and MAC address."
  type = map(object({
    ip  = string
    mac = string
  }))
  default = {
    web1 = { ip = "10.10.60.11", mac = "52:54:00:00:60:11" }
    web2 = { ip = "10.10.60.12", mac = "52:54:00:00:60:12" }
  }
}

variable "vms" {
  description = "Hosts (keys of `hosts`) that are VMs on the default hypervisor, with their size. Default: none."
  type = map(object({
    memory  = optional(string, "512MiB")
    disk    = optional(string, "10GiB")
    type    = optional(string, "kvm")
    running = optional(bool, true)
  }))
  default = {}
}

variable "vm_pool" {
  description = "The hypervisor's storage pool that holds the VMs' disks."
  type        = string
  default     = "default"
}

variable "vm_network" {
  description = "The libvirt network the VMs' NICs join."
  type        = string
  default     = "default"
}
