# A local repository for the packages the team builds itself.
resource "rack_apt_repository" "ops" {
  name                 = "ops"
  comment              = "packages built or rebuilt here"
  default_distribution = "ops-main"
  default_component    = "main"
}
