variable "nameserver" {
  description = "The zones' name server (SOA mname and NS record), outside both zones."
  type        = string
  default     = "ns1.example.net."
}
