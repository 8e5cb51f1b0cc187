# Every reservation of the subnet known by a MAC address or client identifier:
# <subnet> on the default server, or <server>/<subnet>.
terraform import rack_dhcp_reservations.farm 10.10.60.0/24
terraform import rack_dhcp_reservations.lab kea1/10.10.70.0/24
