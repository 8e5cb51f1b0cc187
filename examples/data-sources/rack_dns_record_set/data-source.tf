# One record set, asked of the server. A record set that does not exist is an error.
data "rack_dns_record_set" "mail" {
  zone = "farm."
  name = "@"
  type = "MX"
}

output "mail_exchangers" {
  value = data.rack_dns_record_set.mail.records
}
