# What the main distribution publishes: exactly these packages. Promoting a package is
# a change of keys, which replaces the snapshot; with create_before_destroy the new
# snapshot exists while the publication switches to it.
resource "rack_apt_snapshot" "main" {
  name         = "main"
  package_keys = ["Pamd64 hello 1.1 b288db444590aead"]

  lifecycle {
    create_before_destroy = true
  }
}

# The repository as it is now.
resource "rack_apt_snapshot" "proposed" {
  name       = "proposed"
  repository = "ops"

  lifecycle {
    create_before_destroy = true
  }
}

# The security fixes of another snapshot, by an aptly package query.
resource "rack_apt_snapshot" "security" {
  name             = "security"
  source_snapshots = [rack_apt_snapshot.proposed.aptly_name]
  query            = "Name (openssl) | Name (libssl3)"
}
