# <hypervisor>/<name>, or <name> on the default hypervisor:
terraform import rack_storage_pool.images kvm1/images
terraform import rack_storage_pool.fast fast
