# /etc/apt/sources.list.d/ops.sources on a client, for cloud-init write_files.
output "ops_sources" {
  value = provider::rack::apt_sources(
    "https://apt.example/ops",
    ["ops-main", "proposed-updates"],
    ["main", "profile/appserver"],
    "/etc/apt/keyrings/ops.gpg",
  )
}
