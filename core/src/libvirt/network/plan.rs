//! What a change to a network needs: in place, or replacement. Pure: no I/O.

use super::spec::{DhcpRange, NetworkSpec};

/// What it takes to turn one network into another.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NetworkUpdatePlan {
    /// Attributes that differ and cannot change in place (from [`REPLACE_ATTRIBUTES`]);
    /// non-empty means the network must be replaced.
    pub replace: Vec<&'static str>,
    /// DHCP ranges to delete, with `true` for IPv6.
    pub remove_ranges: Vec<(bool, DhcpRange)>,
    /// DHCP ranges to add, with `true` for IPv6.
    pub add_ranges: Vec<(bool, DhcpRange)>,
    /// The new autostart flag, if it changes.
    pub autostart: Option<bool>,
}

impl NetworkUpdatePlan {
    /// Whether nothing changes.
    pub fn is_empty(&self) -> bool {
        self.replace.is_empty()
            && self.remove_ranges.is_empty()
            && self.add_ranges.is_empty()
            && self.autostart.is_none()
    }
}

/// Compares the network as it is with the network as wanted. A `bridge` of `None` in
/// `desired` means "whatever libvirt picked" and never differs.
pub fn plan_update(current: &NetworkSpec, desired: &NetworkSpec) -> NetworkUpdatePlan {
    let mut plan = NetworkUpdatePlan::default();
    let mut replace = |cond: bool, attr: &'static str| {
        if cond {
            plan.replace.push(attr);
        }
    };
    replace(current.name != desired.name, "name");
    replace(current.mode != desired.mode, "mode");
    replace(
        desired.bridge.is_some() && current.bridge != desired.bridge,
        "bridge",
    );
    replace(current.mtu != desired.mtu, "mtu");
    replace(current.domain != desired.domain, "domain");
    for (v6, cur, want) in [
        (false, &current.ipv4, &desired.ipv4),
        (true, &current.ipv6, &desired.ipv6),
    ] {
        let (address, prefix) = if v6 {
            ("ipv6.address", "ipv6.prefix")
        } else {
            ("ipv4.address", "ipv4.prefix")
        };
        match (cur, want) {
            (None, None) => {}
            (Some(c), Some(w)) => {
                replace(c.address != w.address, address);
                replace(c.prefix != w.prefix, prefix);
                for r in &c.dhcp_ranges {
                    if !w.dhcp_ranges.contains(r) {
                        plan.remove_ranges.push((v6, *r));
                    }
                }
                for r in &w.dhcp_ranges {
                    if !c.dhcp_ranges.contains(r) {
                        plan.add_ranges.push((v6, *r));
                    }
                }
            }
            _ => {
                replace(true, address);
                replace(true, prefix);
            }
        }
    }
    if current.autostart != desired.autostart {
        plan.autostart = Some(desired.autostart);
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{nat, range};
    use super::super::spec::{NetworkMode, REPLACE_ATTRIBUTES};
    use super::*;

    #[test]
    fn plan_in_place_and_replace() {
        let current = nat();
        assert!(plan_update(&current, &current).is_empty());

        let mut want = nat();
        want.autostart = false;
        want.ipv4.as_mut().unwrap().dhcp_ranges = vec![
            range("10.90.0.100", "10.90.0.120"),
            range("10.90.0.200", "10.90.0.210"),
        ];
        let plan = plan_update(&current, &want);
        assert!(plan.replace.is_empty());
        assert_eq!(plan.autostart, Some(false));
        assert_eq!(
            plan.remove_ranges,
            vec![(false, range("10.90.0.100", "10.90.0.150"))]
        );
        assert_eq!(
            plan.add_ranges,
            vec![
                (false, range("10.90.0.100", "10.90.0.120")),
                (false, range("10.90.0.200", "10.90.0.210"))
            ]
        );

        let mut want = nat();
        want.bridge = None;
        assert!(
            plan_update(&current, &want).is_empty(),
            "bridge left to libvirt"
        );

        let mut want = nat();
        want.mode = NetworkMode::Route;
        want.mtu = None;
        want.ipv6 = None;
        want.domain.as_mut().unwrap().local_only = false;
        want.ipv4.as_mut().unwrap().prefix = 16;
        assert_eq!(
            plan_update(&current, &want).replace,
            vec![
                "mode",
                "mtu",
                "domain",
                "ipv4.prefix",
                "ipv6.address",
                "ipv6.prefix"
            ]
        );
        for attr in plan_update(&current, &want).replace {
            assert!(REPLACE_ATTRIBUTES.contains(&attr));
        }
    }
}
