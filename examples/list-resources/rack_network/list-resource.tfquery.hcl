# Every network of hypervisor kvm1, active or not, ready to adopt with
# `terraform query -generate-config-out=generated.tf` and `terraform apply`.
list "rack_network" "kvm1" {
  provider = rack

  config {
    hypervisor = "kvm1"
  }
}
