# The versions of hello in the repository from 1.1 on.
data "rack_apt_packages" "hello" {
  repository = "ops"
  query      = "Name (hello), $Version (>= 1.1)"
}

output "hello_keys" {
  value = data.rack_apt_packages.hello.packages[*].key
}
