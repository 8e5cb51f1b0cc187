# Ephemeral: Terraform keeps the value out of the plan file and the state, and asks for
# it again when a saved plan is applied (graphics.password is write-only).
variable "vnc_password" {
  type      = string
  sensitive = true
  ephemeral = true
}

# A web server on the farm network: a qcow2 root volume on a shared base image, a data
# disk, cloud-init for the first boot, and an address reserved for the interface's MAC,
# which is derived from the VM's name and known at plan time.
resource "rack_vm" "web1" {
  hypervisor = "kvm1"
  name       = "web1"
  vcpus      = 2
  max_vcpus  = 4 # up to 4 vCPUs without a restart
  memory     = "2GiB"
  max_memory = "4GiB" # memory changes up to 4 GiB happen live
  machine    = "q35"
  firmware   = "uefi"
  autostart  = true

  disk {
    pool   = "vms"
    volume = "web1-root.qcow2"
    format = "qcow2"
  }

  disk {
    pool   = "vms"
    volume = "web1-data"
    serial = "web1-data"
  }

  network_interface {
    network = "farm" # e.g. rack_network.farm.name
  }

  graphics {
    type     = "vnc"
    password = var.vnc_password # write-only, at most 8 characters
  }

  qemu_guest_agent = true

  cloud_init {
    user_data = <<-EOT
      #cloud-config
      packages: [nginx]
    EOT
    meta_data = <<-EOT
      instance-id: web1-1
      local-hostname: web1
    EOT
  }

  wait_for_ip {
    source  = "any"
    timeout = "5m"
  }
}

# The lease the VM's first interface gets, reserved before the VM exists.
resource "rack_dhcp_lease" "web1" {
  subnet   = "10.10.60.0/24"
  mac      = rack_vm.web1.network_interface[0].mac
  ip       = "10.10.60.21"
  hostname = "web1"
}

output "web1_addresses" {
  value = rack_vm.web1.network_interface[0].ip_addresses
}
