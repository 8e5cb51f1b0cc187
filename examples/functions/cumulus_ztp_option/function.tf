# { code = 239, data = "http://10.10.60.2/boot/ztp/tor1.sh" }: give it to the switch's lease.
resource "rack_dhcp_lease" "tor1" {
  subnet = "10.10.60.0/24"
  mac    = "0c:c4:7a:10:20:30"
  ip     = "10.10.60.201"
  options = [
    provider::rack::cumulus_ztp_option("http://10.10.60.2/boot/ztp/tor1.sh"),
  ]
}
