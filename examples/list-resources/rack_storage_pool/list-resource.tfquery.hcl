# Every storage pool of hypervisor kvm1, active or not.
list "rack_storage_pool" "kvm1" {
  provider = rack

  config {
    hypervisor = "kvm1"
  }
}
