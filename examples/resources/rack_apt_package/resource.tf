# A .deb built on the machine running Terraform, uploaded into the repository. A new
# build (other content) replaces it; destroy removes it from the repository.
resource "rack_apt_package" "hello_1_1" {
  repository  = "ops"
  source_file = "${path.module}/debs/hello_1.1_amd64.deb"
}
