# <prefix>/<distribution>, `.` for the root prefix, then how aptly signs it (aptly's API
# does not say): ?key_id=<ID>&passphrase_file=<path> (either or both), ?signing=skip
# (unsigned) or ?signing=default (aptly's default key, no `signing` block).
terraform import rack_apt_publication.main './ops-main?key_id=C7D4D3FABE68AD8A&passphrase_file=/etc/aptly/passphrase'
# Without the signing, a configured `signing` block shows in the next plan as an update,
# whose apply signs the publication again with that key.
terraform import rack_apt_publication.proposed ./proposed-updates
