# The switch's bridges, ports and interfaces, with link state and OpenFlow ports.
data "rack_switch" "tor1" {
  server = "tor1"
}

output "links_down" {
  value = flatten([
    for b in data.rack_switch.tor1.bridges : [
      for p in b.ports : [
        for i in p.interfaces : "${b.name}/${p.name}/${i.name}" if i.link_state == "down"
      ]
    ]
  ])
}
