# A zone on the default DNS server, by its name:
terraform import rack_dns_zone.lab lab.example.net.

# A zone on another server of the provider's dns block: <server>/<zone>
terraform import rack_dns_zone.lab primary/lab.example.net.
