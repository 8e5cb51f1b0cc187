# A VM whose MAC address is derived from its name, with a fixed address.
resource "rack_dhcp_lease" "web1" {
  subnet   = "10.10.60.0/24"
  mac      = provider::rack::mac_address("web1.farm.example")
  ip       = "10.10.60.11"
  hostname = "web1"
  options = [
    { name = "routers", data = "10.10.60.1" },
    { name = "domain-name-servers", data = "10.10.60.53, 10.10.60.54" },
  ]
}

# A switch installing its NOS with ONIE (option 114), and a PXE host booting from TFTP.
resource "rack_dhcp_lease" "leaf1" {
  subnet   = "10.10.60.0/24"
  mac      = "0c:c4:7a:10:20:30"
  ip       = "10.10.60.201"
  hostname = "leaf1"
  options = [
    { code = 114, data = "http://10.10.60.2/onie/onie-installer-x86_64" },
    { code = 239, data = "http://10.10.60.2/ztp/leaf1.sh" }, # site-specific text
  ]
}

resource "rack_dhcp_lease" "metal1" {
  server      = "kea1" # a server of the provider's dhcp block; the default if omitted
  subnet      = "10.10.60.0/24"
  mac         = "52:54:00:aa:00:01"
  ip          = "10.10.60.40"
  next_server = "10.10.60.2"
  boot_file   = "pxelinux.0"
}
