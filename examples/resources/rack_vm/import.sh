# <hypervisor>/<name> or <hypervisor>/<uuid>, or the name or UUID alone on the default
# hypervisor:
terraform import rack_vm.web1 kvm1/web1
terraform import rack_vm.db1 8c6e2bf4-1d1a-4c55-9a7e-5d3f0a1b2c3d
