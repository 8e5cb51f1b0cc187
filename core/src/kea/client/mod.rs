//! The client rack's DHCP resources use: commands over HTTP to Kea's control agent, the
//! server's configuration read once and cached, and reservation changes coalesced into
//! as few configuration writes as possible.
//!
//! # Reads
//!
//! [`KeaClient::reservations`] reads the subnet's reservations from the server's
//! configuration, fetched by one `config-get` and kept for the life of the client;
//! concurrent first callers share the one fetch. After our own writes the cache is
//! dropped, so the next read fetches again.
//!
//! # Writes
//!
//! Kea 2.2 has no command to change one reservation of its configuration (the
//! `host_cmds` hook came to the open-source Kea in 3.0). [`KeaClient::apply`] therefore
//! queues the change; one writer task per client, once started, waits [`COALESCE_WINDOW`]
//! for the changes that arrive together, takes everything queued, applies it to the cached
//! configuration in memory (conflicts fail their own change only), fetches the
//! configuration again and compares its hash with the cached one (if something changed
//! underneath, the changes are applied again to the fresh configuration), then sends one
//! `config-set` with all the changes, `config-write` to persist it, and a `config-get`
//! to verify it (see "Concurrent writers"). When the cache was empty (after our own previous write) the configuration
//! it fetches is the current one and serves as both base and check: one `config-get` per
//! batch, not two. Changes that arrive while that `config-get` is under way join the
//! batch once the check has passed (they are applied to the server's current
//! configuration too), and the next batch starts as soon as one is written, without
//! waiting again: Terraform keeps only a few changes in flight, and each of them waits for
//! a whole batch, so every wait adds to all of them.
//!
//! After a write the cache holds the configuration as read back, in Kea's own form, and
//! serves both the reads (the plans Terraform makes between applies) and the next
//! batch's base. Changes that arrive while
//! a write is under way go together in the next one. When Kea rejects a `config-set`
//! holding several changes, nothing was changed; the batch is split in halves and tried
//! again until the rejected change is alone, so one bad option cannot fail its
//! neighbours.
//!
//! # Concurrent writers
//!
//! Kea 2.2's `config-set` replaces the whole configuration and has no compare-and-set:
//! two writers that read the same configuration and write in turn lose the first one's
//! changes. Kea runs control commands one at a time, so rack checks before and after.
//! Before: a batch applied to a cached configuration first compares the cache's `hash`
//! with the server's (one `config-get`), and starts again from the server's when they
//! differ; a cache refilled by the previous batch's read-back is checked too, since
//! another writer may have written since. After: once `config-set` and `config-write`
//! are done it reads the configuration back (that `config-get` refills the cache) and
//! verifies that every change of the batch is in it and that no reservation of the configuration the
//! batch was applied to has gone unless the batch removed it. If anything is missing,
//! another writer's `config-set` came in between: the batch is applied again to what Kea
//! holds now (up to [`REWRITES`] times), and then fails with
//! [`KeaError::ConcurrentChange`], loudly, never reporting success for a change Kea does
//! not hold. Concurrent writers on this path are serialised by this check only: a writer
//! whose `config-set` lands between another's `config-get` and `config-set` is caught,
//! but a whole write and read-back slipped into that short gap is not. Only the host
//! database path (reservations in Kea's PostgreSQL or MySQL hosts database) gives each
//! change its own transaction.
//!
//! A change is idempotent: an add whose reservation is already there exactly as asked
//! (an earlier write that timed out but that Kea carried out later) succeeds without a
//! write. [`KeaClient::apply_expecting`] checks each change against what the caller
//! last read, in the configuration being written, so a reservation changed by hand
//! since is refused ([`super::ConfigError::Changed`]) rather than overwritten. After a
//! `config-set` or `config-write` that failed other than by Kea's refusal (a timeout, a
//! lost connection), the cache is dropped: Kea may still carry the write out.
//!
//! Where the server lists `reservation-add` in `list-commands` (the `host_cmds` hook),
//! changes go through `reservation-add` and `reservation-del` instead, one by one, after
//! the same conflict check on the cached configuration.

mod handle;
mod settings;
mod writes;

pub use handle::{COALESCE_WINDOW, KeaClient, LeaseQuery};
pub use settings::{KeaConfig, Secret};
pub use writes::Expect;
