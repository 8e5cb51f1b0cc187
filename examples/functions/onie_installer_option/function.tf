# { code = 114, data = "http://10.10.60.2/boot/onie/onie-installer-x86_64" }
output "onie_option" {
  value = provider::rack::onie_installer_option("http://10.10.60.2/boot/onie/onie-installer-x86_64")
}
