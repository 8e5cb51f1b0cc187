# <subnet>/<mac> on the default server:
terraform import rack_dhcp_lease.web1 10.10.60.0/24/52:54:00:4e:aa:a2

# <server>/<subnet>/<mac> on another server, and a client identifier instead of a MAC:
terraform import rack_dhcp_lease.metal1 kea1/10.10.60.0/24/52:54:00:aa:00:01
terraform import rack_dhcp_lease.appliance kea1/10.10.60.0/24/client-id:01:52:54:00:aa:00:02
