terraform {
  required_providers {
    rack = {
      source = "terraform.local/rack/rack"
    }
  }
}

variable "tsig_secret" {
  description = "Base64 TSIG secret (tsig-keygen); pass it as TF_VAR_tsig_secret."
  type        = string
  sensitive   = true
}

variable "kea_db_password" {
  description = "Password of Kea's host database role; pass it as TF_VAR_kea_db_password."
  type        = string
  sensitive   = true
}

variable "kea_db_ca_cert" {
  description = "PEM certificate of the CA that signed the host database's certificate."
  type        = string
  default     = null
}

variable "rndc_secret" {
  description = "Base64 rndc key secret; pass it as TF_VAR_rndc_secret."
  type        = string
  sensitive   = true
}

variable "aptly_password" {
  description = "Password of rack's user at the proxy in front of the aptly API."
  type        = string
  sensitive   = true
}

variable "aptly_ca_cert" {
  description = "PEM certificate of the CA that signed the aptly proxy's certificate."
  type        = string
}

variable "switch_ca_cert" {
  description = "PEM certificate of the CA that signed the switches' certificates."
  type        = string
}

variable "switch_client_cert" {
  description = "PEM client certificate of rack for the switches' ovsdb-server."
  type        = string
}

variable "switch_client_key" {
  description = "PEM private key of rack's client certificate for the switches' ovsdb-server."
  type        = string
  sensitive   = true
}

variable "prov_password" {
  description = "Password of rack's user on the provisioning server; pass it as TF_VAR_prov_password."
  type        = string
  sensitive   = true
}

# Functions need no configuration. The dns section names the DNS servers rack_dns_*
# resources use; every setting of the default server can also come from RACK_DNS_*
# environment variables instead.
provider "rack" {
  # KVM hypervisors by name; resources pick one with `hypervisor` (RACK_HYPERVISORS).
  hypervisors = {
    kvm1 = "qemu+ssh://root@kvm1.dc1.example.net/system"
    kvm2 = "qemu+ssh://root@kvm2.dc1.example.net/system"
  }
  default_hypervisor = "kvm1"

  dns {
    server "primary" {
      address       = "10.0.0.53:53"
      key_name      = "rack."
      key_algorithm = "hmac-sha256"
      key_secret    = var.tsig_secret

      # Needed only to create and delete zones (rack_dns_zone).
      rndc {
        address  = "10.0.0.53:953"
        key_name = "rndc-key"
        secret   = var.rndc_secret
      }
      zone_directory = "/var/cache/bind"
    }
  }

  # DHCP servers for rack_dhcp_lease. This Kea keeps its reservations in its PostgreSQL
  # host database: rack writes them there as rows, over TLS; the control agent gives the
  # subnets' ids and the leases.
  dhcp {
    server "kea1" {
      kea {
        url = "http://10.0.0.67:8000"
        hosts_database {
          url      = "postgresql://rack@db1.dc1.example.net:5432/kea"
          password = var.kea_db_password
          ca_cert  = var.kea_db_ca_cert
        }
      }
    }
  }

  # Open vSwitch switches, reached over OVSDB at their ovsdb-server (RACK_SWITCH_*).
  switch {
    server "tor1" {
      address     = "ssl:10.0.0.2:6640"
      ca_cert     = var.switch_ca_cert     # the CA of the switches' PKI (ovs-pki)
      client_cert = var.switch_client_cert # signed by that CA
      client_key  = var.switch_client_key
    }
  }

  # aptly servers, reached through the proxy in front of their API (RACK_APT_*).
  apt {
    server "repo1" {
      url      = "https://apt.dc1.example.net:8443"
      username = "rack"
      password = var.aptly_password
      ca_cert  = var.aptly_ca_cert
    }
  }

  # Provisioning servers: HTTP with WebDAV writes (nginx: dav_methods PUT DELETE), where
  # rack_boot_file puts boot scripts, preseeds and kernels (RACK_BOOT_*).
  boot {
    server "prov1" {
      url      = "https://prov1.dc1.example.net/boot/"
      username = "rack"
      password = var.prov_password
    }
  }
}
