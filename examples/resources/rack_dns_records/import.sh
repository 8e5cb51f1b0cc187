# The whole zone (every record set but its SOA and apex NS): <zone>, or <server>/<zone>.
terraform import rack_dns_records.forward farm.
terraform import rack_dns_records.reverse primary/10.10.in-addr.arpa.
