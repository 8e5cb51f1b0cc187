# <path> on the default provisioning server, or <server>:<path>:
terraform import rack_boot_file.tor1_ztp ztp/tor1.sh
terraform import rack_boot_file.ipxe prov2:ipxe/hv1.ipxe
