//! The active DHCP leases of a libvirt network, as `virsh net-dhcp-leases` shows them
//! (`virNetworkGetDHCPLeases`: libvirt reads them from the status file its lease helper
//! keeps for the network's dnsmasq).
//!
//! # Why this module uses `unsafe`
//!
//! The `virt` crate (0.5, its newest release) wraps libvirt's network API except this one
//! call, so it is made here through `virt::sys`, the C declarations `virt` itself uses.
//! The unsafe code is confined to [`leases_of`]: one call that hands back an array the
//! caller owns, a loop that copies each lease's strings into Rust values before freeing
//! the lease with `virNetworkDHCPLeaseFree`, and one `free` of the array, exactly as
//! libvirt's documentation of `virNetworkGetDHCPLeases` asks. No pointer outlives the
//! function.

#![allow(unsafe_code)]

use std::ffi::{CStr, CString, c_char, c_void};
use std::net::IpAddr;

use virt::network::Network;
use virt::sys;

use super::connection::Hypervisor;
use super::connection::not_found;
use super::dhcp_host::DhcpHostError;
use super::error::ObjectKind;
use super::network::lookup;
use crate::net::MacAddress;

/// One active lease of a network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkLease {
    /// The network's bridge.
    pub iface: String,
    /// When the lease expires, seconds since the epoch (0: never).
    pub expiry: i64,
    /// The leased address.
    pub ip: IpAddr,
    /// The prefix length of the address's network.
    pub prefix: u32,
    /// The client's MAC address (IPv4 leases; IPv6 ones may have none).
    pub mac: Option<MacAddress>,
    /// The hostname the client sent.
    pub hostname: Option<String>,
    /// The client identifier (IPv4) or DUID (IPv6), as libvirt reports it.
    pub client_id: Option<String>,
}

// libc's `free`, which libvirt's documentation names for the array.
unsafe extern "C" {
    fn free(ptr: *mut c_void);
}

/// Copies a C string libvirt owns; `None` for a null pointer or an empty string.
///
/// # Safety
///
/// `p` is null or points to a NUL-terminated string that stays valid during the call.
unsafe fn text(p: *const c_char) -> Option<String> {
    if p.is_null() {
        return None;
    }
    // SAFETY: non-null and NUL-terminated per this function's contract.
    let s = unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned();
    (!s.is_empty()).then_some(s)
}

/// The leases of `net` (of `mac` only, when given), on the connection's thread.
fn leases_of(
    net: &Network,
    mac: Option<MacAddress>,
) -> Result<Vec<NetworkLease>, virt::error::Error> {
    let mac_c = mac.map(|m| CString::new(m.to_string())).transpose()?;
    let mac_ptr = mac_c.as_ref().map_or(std::ptr::null(), |c| c.as_ptr());
    let mut array: *mut sys::virNetworkDHCPLeasePtr = std::ptr::null_mut();
    // SAFETY: `net` is a live network object; `mac_ptr` is null or a NUL-terminated string
    // that lives until the end of this function; libvirt stores a newly allocated array
    // in `array` and returns its length, or -1 (and leaves no array) on error.
    let n = unsafe { sys::virNetworkGetDHCPLeases(net.as_ptr(), mac_ptr, &mut array, 0) };
    if n < 0 {
        return Err(virt::error::Error::last_error());
    }
    let count = usize::try_from(n).unwrap_or(0);
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        // SAFETY: `array` holds `count` lease pointers.
        let lease = unsafe { *array.add(i) };
        if lease.is_null() {
            continue;
        }
        // SAFETY: a lease libvirt allocated; read, then freed once, below.
        let l = unsafe { &*lease };
        // SAFETY: the strings belong to the lease, which is freed after they are copied.
        let (iface, ip, mac, hostname, client_id) = unsafe {
            (
                text(l.iface),
                text(l.ipaddr),
                text(l.mac),
                text(l.hostname),
                text(l.clientid),
            )
        };
        let (expiry, prefix) = (l.expirytime, l.prefix);
        // SAFETY: freed exactly once; `l` is not used after this.
        unsafe { sys::virNetworkDHCPLeaseFree(lease) };
        if let Some(ip) = ip.and_then(|a| a.parse().ok()) {
            out.push(NetworkLease {
                iface: iface.unwrap_or_default(),
                expiry,
                ip,
                prefix,
                mac: mac.and_then(|m| m.parse().ok()),
                hostname,
                client_id,
            });
        }
    }
    if !array.is_null() {
        // SAFETY: the array libvirt allocated for us, whose elements are freed above.
        unsafe { free(array.cast()) };
    }
    Ok(out)
}

impl Hypervisor {
    /// The active DHCP leases of network `network` (of `mac` only, when given), IPv4 and
    /// IPv6, as libvirt reports them now.
    pub async fn dhcp_leases(
        &self,
        network: &str,
        mac: Option<MacAddress>,
    ) -> Result<Vec<NetworkLease>, DhcpHostError> {
        let name = network.to_owned();
        Ok(self
            .call(
                format!("list the DHCP leases of network {name:?}"),
                move |link| {
                    let net = lookup(link, &name)?
                        .ok_or_else(|| not_found(link, ObjectKind::Network, name.clone()))?;
                    leases_of(&net, mac).map_err(|e| {
                        link.fail(format!("list the DHCP leases of network {name:?}"), e)
                    })
                },
            )
            .await?)
    }
}
