# The main distribution, pinned at 940 on the clients, signed with a key of aptly's own
# keyring: only the key ID and the path of the passphrase file on the aptly host are in
# state. A new snapshot in `components` switches the publication in place.
resource "rack_apt_publication" "main" {
  distribution = "ops-main"
  origin       = "ops"
  label        = "ops"
  components = {
    main                = "main-3fa91c07"
    "profile/appserver" = "appserver-9d20c4e1"
  }

  signing {
    key_id          = "8F2C6B1D4E0A7F35C9B2D6E18A4F0C73B5D9E216"
    passphrase_file = "/etc/aptly/signing.pass"
  }
}

# proposed-updates, pinned at -1 on the clients: nothing installs from it by accident.
resource "rack_apt_publication" "proposed" {
  distribution  = "proposed-updates"
  origin        = "ops"
  architectures = ["amd64"]
  components = {
    main = "proposed-5b7e0d2a"
  }

  signing {
    key_id          = "8F2C6B1D4E0A7F35C9B2D6E18A4F0C73B5D9E216"
    passphrase_file = "/etc/aptly/signing.pass"
  }
}
