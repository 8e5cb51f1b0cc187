# The snapshot's aptly name on the default server, or <server>/<aptly name>:
terraform import rack_apt_snapshot.main main-3fa91c07
