data "rack_hypervisor" "kvm1" {
  name = "kvm1"
}

# Hardware acceleration where it works, emulation elsewhere (e.g. a nested lab).
output "vm_type" {
  value = contains(data.rack_hypervisor.kvm1.domain_types, "kvm") ? "kvm" : "qemu"
}
