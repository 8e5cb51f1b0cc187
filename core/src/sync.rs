//! Locking shared by the clients and the libvirt caches.

use std::sync::{Mutex, MutexGuard};

/// Locks `m`, carrying on past a poisoned lock: every critical section in this crate is
/// a single insert, remove, take or flag change, so the data stays consistent even if a
/// holder panicked.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
