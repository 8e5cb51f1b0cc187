# Every VM of hypervisor kvm1, running or not. `terraform query
# -generate-config-out=generated.tf` writes a resource and an import block for each,
# ready to adopt with `terraform apply`.
list "rack_vm" "kvm1" {
  provider = rack

  config {
    hypervisor = "kvm1"
  }
}
