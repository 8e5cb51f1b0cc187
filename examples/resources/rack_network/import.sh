# <hypervisor>/<name>, or <name> on the default hypervisor:
terraform import rack_network.farm kvm1/farm
terraform import rack_network.lan lan
