# <bridge>/<port> on the default switch, or <switch>/<bridge>/<port>:
terraform import rack_switch_port.uplink br-tor/eth47
terraform import rack_switch_port.core tor1/br-tor/bond0
