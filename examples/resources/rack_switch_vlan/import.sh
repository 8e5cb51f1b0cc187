# <bridge>/<vlan> on the default switch, or <switch>/<bridge>/<vlan>:
terraform import rack_switch_vlan.web br-tor/web
