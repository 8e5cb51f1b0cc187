//! libvirt storage pools: the model rack manages ([`PoolSpec`]), its XML in both
//! directions, what a change needs ([`plan_pool_update`]), and the operations on a
//! [`Hypervisor`].
//!
//! Two kinds of pool:
//!
//! - `dir`: a directory on the hypervisor holding one file per volume. Creating the pool
//!   builds it (`mkdir -p`, existing directories are kept as they are);
//! - `logical`: an LVM volume group, one logical volume per volume. With source devices
//!   rack builds it (`pvcreate` and `vgcreate` on those devices, refusing devices that
//!   already carry a filesystem or LVM signature); without, the volume group must exist.
//!
//! Creating a pool defines it, builds it, starts it and sets autostart; if any step fails
//! the definition is removed again (and a volume group rack just created is removed).
//!
//! # What changes in place, what forces replacement
//!
//! Only `autostart` and whether the pool runs change in place. The name,
//! the kind, the path, the volume group and its devices force replacement
//! ([`POOL_REPLACE_ATTRIBUTES`]).
//!
//! # Deleting
//!
//! Deleting stops the pool and removes its definition. Storage is removed only when it is
//! empty and rack can tell it is the pool's own: a `dir` pool's directory is removed if no
//! volume is left in it (libvirt's `rmdir`, which also fails harmlessly on a directory
//! holding other files); a `logical` pool's volume group is removed (`vgremove`, then
//! `pvremove` on its devices) only if it holds no logical volume and the pool lists its
//! source devices, that is, rack built it. A volume group the pool merely uses is kept.

mod ops;
mod plan;
pub(crate) mod spec;
mod xml;

pub use ops::{PoolCreated, PoolState};
pub(crate) use ops::{lookup_pool, pool_error, require_pool};
pub use plan::{PoolUpdatePlan, plan_pool_update};
pub use spec::{POOL_REPLACE_ATTRIBUTES, PoolKind, PoolSpec, PoolSpecError};
pub use xml::{parse_pool_xml, pool_xml};
