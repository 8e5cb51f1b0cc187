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
