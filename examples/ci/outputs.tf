output "hosts" {
  description = "Each host's fully qualified name and address."
  value       = { for name, h in var.hosts : "${name}.${var.zone}" => h.ip }
}
