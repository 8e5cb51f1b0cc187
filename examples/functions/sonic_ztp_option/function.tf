# { name = "boot-file-name", data = "http://10.10.60.2/boot/ztp/leaf2.json" } (option 67)
output "sonic_option" {
  value = provider::rack::sonic_ztp_option("http://10.10.60.2/boot/ztp/leaf2.json")
}
