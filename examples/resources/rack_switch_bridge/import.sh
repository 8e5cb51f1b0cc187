# <bridge> on the default switch, or <switch>/<bridge>:
terraform import rack_switch_bridge.tor br-tor
terraform import rack_switch_bridge.tor tor1/br-tor
