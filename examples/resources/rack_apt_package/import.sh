# <repository>/<aptly package key> on the default server, or <server>/<repository>/<key>:
terraform import rack_apt_package.hello_1_1 'ops/Pamd64 hello 1.1 b288db444590aead'
