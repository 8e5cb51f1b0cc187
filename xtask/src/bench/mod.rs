//! Benchmarks of the release provider, run by the `bench` binary
//! (`scripts/bench <name>`); each prints a markdown report for `BENCHMARKS.md`.
//!
//! A benchmark measures against a baseline in the same run, in interleaved rounds, and
//! reports medians with their spread: the machines are shared and noisy, so a number
//! from another run, or a single sample, says little.

pub mod apt;
pub mod boot;
mod cert;
pub mod ci;
pub mod dhcp;
pub mod dns;
pub mod foundation;
mod host;
mod procfs;
mod setup;
mod stats;
pub mod storage;
pub mod switch;
pub mod vm;
pub mod zone;

/// One benchmark the `bench` binary can run.
#[derive(Debug, Clone, Copy)]
pub struct Benchmark {
    /// The subcommand naming it.
    pub name: &'static str,
    /// One line on what it measures.
    pub about: &'static str,
    /// Rounds when `--runs` is not given.
    pub default_runs: usize,
    /// Runs it with `--runs` rounds and returns the markdown report.
    pub run: fn(runs: usize) -> anyhow::Result<String>,
}

/// Every benchmark, in the order `--help` lists them. Later sections (DNS, DHCP, VMs)
/// add theirs here.
pub const BENCHMARKS: &[Benchmark] = &[
    Benchmark {
        name: "foundation",
        about: "provider start-up, handshake, memory, and `terraform plan` with 0 and 200 function calls",
        default_runs: 10,
        run: |runs| foundation::run(&foundation::Options { runs }),
    },
    Benchmark {
        name: "dns",
        about: "1000 `rack_dns_record_set` against BIND: apply, no-change plan and DNS messages, vs. `terraform_data` and nsupdate/AXFR",
        default_runs: dns::DEFAULT_ROUNDS,
        run: |runs| dns::run(&dns::Options { runs }),
    },
    Benchmark {
        name: "dhcp",
        about: "500 `rack_dhcp_lease` in one subnet against Kea: apply, no-change plan and Kea commands, vs. `terraform_data` and one raw config-set",
        default_runs: dhcp::DEFAULT_ROUNDS,
        run: |runs| dhcp::run(&dhcp::Options { runs }),
    },
    Benchmark {
        name: "storage",
        about: "libvirt volumes: 20 qcow2 overlays vs 20 full copies (time, bytes written); sparse upload of 1 GiB holding 100 MiB vs `virsh vol-upload --sparse`",
        default_runs: storage::DEFAULT_ROUNDS,
        run: |runs| storage::run(&storage::Options { runs }),
    },
    Benchmark {
        name: "ci",
        about: "a scheduled drift check (`plan -refresh-only -detailed-exitcode`, state in pg) of 50 hosts' records and leases, vs. `terraform_data` stand-ins",
        default_runs: ci::DEFAULT_ROUNDS,
        run: |runs| ci::run(&ci::Options { runs }),
    },
    Benchmark {
        name: "switch",
        about: "a 48-port top-of-rack profile on Open vSwitch: apply, no-change plan and OVSDB transactions, vs. `terraform_data` and one `ovs-vsctl`",
        default_runs: switch::DEFAULT_ROUNDS,
        run: |runs| switch::run(&switch::Options { runs }),
    },
    Benchmark {
        name: "boot",
        about: "200 `rack_boot_file` of 64 KiB on nginx (WebDAV): apply, no-change plan, destroy and requests, vs. `terraform_data` and a `curl -T` loop",
        default_runs: boot::DEFAULT_ROUNDS,
        run: |runs| boot::run(&boot::Options { runs }),
    },
    Benchmark {
        name: "apt",
        about: "200 `rack_apt_package` uploaded, snapshotted and published signed on aptly: apply, no-change plan and API requests, vs. `terraform_data` and the `aptly` CLI",
        default_runs: apt::DEFAULT_ROUNDS,
        run: |runs| apt::run(&apt::Options { runs }),
    },
    Benchmark {
        name: "vm",
        about: "10 `rack_vm` booting from overlays of one base volume, with cloud-init: time until all run, until all have addresses, destroy, vs. the same done with virsh",
        default_runs: vm::DEFAULT_ROUNDS,
        run: |runs| vm::run(&vm::Options { runs }),
    },
    Benchmark {
        name: "zone",
        about: "a zone of 10,000 resources on 3 hypervisors (DNS, DHCP host database, VMs): per-item and aggregate forms vs. `terraform_data`, memory, requests per service, and adopting a 10,000-record zone",
        default_runs: zone::DEFAULT_ROUNDS,
        run: |runs| zone::run(&zone::Options { runs }),
    },
];
