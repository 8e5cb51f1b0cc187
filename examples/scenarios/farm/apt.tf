# The farm's own APT repository: one package built on the machine running Terraform
# (scripts/up builds it with dpkg-deb), a snapshot of it, and the distribution `farm`
# published and signed with the lab's key, which lives in aptly's keyring only.

resource "rack_apt_repository" "farm" {
  name    = "farm"
  comment = "packages built for the farm"
}

resource "rack_apt_package" "motd" {
  repository  = rack_apt_repository.farm.name
  source_file = var.apt_package
}

resource "rack_apt_snapshot" "farm" {
  name         = "farm"
  package_keys = [rack_apt_package.motd.key]

  lifecycle {
    create_before_destroy = true
  }
}

resource "rack_apt_publication" "farm" {
  distribution  = "farm"
  origin        = "rack-lab"
  label         = "farm"
  architectures = ["amd64"]
  components = {
    main = rack_apt_snapshot.farm.aptly_name
  }

  signing {
    key_id          = var.apt_key_id
    passphrase_file = var.apt_passphrase_file
  }
}
