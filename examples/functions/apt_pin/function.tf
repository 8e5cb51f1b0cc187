# /etc/apt/preferences.d/ops: main at 940, proposed-updates at -1 (canaries raise it).
output "ops_pins" {
  value = join("\n", [
    provider::rack::apt_pin("*", "ops", "ops-main", 940),
    provider::rack::apt_pin("*", "ops", "proposed-updates", -1),
  ])
}
