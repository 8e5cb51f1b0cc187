# The repository's name on the default server, or <server>/<name>:
terraform import rack_apt_repository.ops ops
