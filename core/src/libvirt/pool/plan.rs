//! What a change to a storage pool needs: in place, or replacement. Pure: no I/O.

use super::spec::{PoolKind, PoolSpec};

/// What it takes to turn one pool into another.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PoolUpdatePlan {
    /// Attributes that differ and cannot change in place (from
    /// [`POOL_REPLACE_ATTRIBUTES`]); non-empty means the pool must be replaced.
    pub replace: Vec<&'static str>,
    /// The new autostart flag, if it changes.
    pub autostart: Option<bool>,
}

impl PoolUpdatePlan {
    /// Whether nothing changes.
    pub fn is_empty(&self) -> bool {
        self.replace.is_empty() && self.autostart.is_none()
    }
}

/// Compares the pool as it is with the pool as wanted.
pub fn plan_pool_update(current: &PoolSpec, desired: &PoolSpec) -> PoolUpdatePlan {
    let mut plan = PoolUpdatePlan::default();
    if current.name != desired.name {
        plan.replace.push("name");
    }
    match (&current.kind, &desired.kind) {
        (PoolKind::Dir { path: a }, PoolKind::Dir { path: b }) => {
            if a != b {
                plan.replace.push("path");
            }
        }
        (
            PoolKind::Logical {
                volume_group: va,
                devices: da,
            },
            PoolKind::Logical {
                volume_group: vb,
                devices: db,
            },
        ) => {
            if va != vb {
                plan.replace.push("volume_group");
            }
            if da != db {
                plan.replace.push("devices");
            }
        }
        _ => plan.replace.push("type"),
    }
    if current.autostart != desired.autostart {
        plan.autostart = Some(desired.autostart);
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::super::spec::POOL_REPLACE_ATTRIBUTES;
    use super::*;

    #[test]
    fn plan_in_place_and_replace() {
        let current = PoolSpec::dir("images", "/srv/images");
        assert!(plan_pool_update(&current, &current).is_empty());
        let mut want = current.clone();
        want.autostart = false;
        let plan = plan_pool_update(&current, &want);
        assert!(plan.replace.is_empty());
        assert_eq!(plan.autostart, Some(false));
        let want = PoolSpec::dir("images", "/srv/other");
        assert_eq!(plan_pool_update(&current, &want).replace, vec!["path"]);
        let want = PoolSpec::logical("images", "vg", vec![]);
        assert_eq!(plan_pool_update(&current, &want).replace, vec!["type"]);
        let a = PoolSpec::logical("l", "vg", vec![]);
        let b = PoolSpec::logical("l", "vg2", vec!["/dev/sdb".into()]);
        assert_eq!(
            plan_pool_update(&a, &b).replace,
            vec!["volume_group", "devices"]
        );
        for attr in plan_pool_update(&a, &b).replace {
            assert!(POOL_REPLACE_ATTRIBUTES.contains(&attr));
        }
    }
}
