# <hypervisor>/<pool>/<name>, or <pool>/<name> on the default hypervisor:
terraform import rack_volume.db kvm1/images/db.qcow2
terraform import 'rack_volume.web["web1"]' images/web1.qcow2
