# The snapshot's aptly name on the default server, or <server>/<aptly name>. What it was
# made from is read back from the last line of its aptly description, which rack wrote;
# a snapshot made outside rack imports as `package_keys`.
terraform import rack_apt_snapshot.main main-3fa91c07
