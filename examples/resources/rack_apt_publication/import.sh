# <prefix>/<distribution>, `.` for the root prefix:
terraform import rack_apt_publication.main ./ops-main
