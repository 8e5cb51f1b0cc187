# <zone>/<name>/<TYPE>, the name relative to the zone ("@" for the apex):
terraform import rack_dns_record_set.web farm./web/A
terraform import rack_dns_record_set.mx 'farm./@/MX'

# A record set on a server other than the provider's default: <server>/<zone>/<name>/<TYPE>.
terraform import rack_dns_record_set.web_ptr primary/60.10.10.in-addr.arpa./11/PTR
