variable "dns_address" {
  description = "Where the DNS server answers, host:port."
  type        = string
  default     = "127.0.0.1:53"
}

variable "tsig_key_name" {
  description = "Name of the TSIG key allowed to update farm. and its reverse zone."
  type        = string
}

variable "tsig_key_algorithm" {
  description = "Algorithm of the TSIG key."
  type        = string
  default     = "hmac-sha256"
}

variable "tsig_key_secret" {
  description = "Base64 secret of the TSIG key; pass it as TF_VAR_tsig_key_secret, never in a file."
  type        = string
  sensitive   = true
}
