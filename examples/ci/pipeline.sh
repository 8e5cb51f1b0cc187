#!/usr/bin/env bash
# The stages of rack's CI pipeline, run locally the way CI runs them: each stage in a
# fresh working directory, as a separate runner would, passing on only what a CI system
# passes between jobs (the artifacts directory).
#
#   pipeline.sh validate   terraform fmt -check, init -backend=false, validate
#   pipeline.sh plan       init, plan -out; the plan file, its text and JSON and the
#                          dependency lock file become artifacts
#   pipeline.sh apply      init with the plan job's lock file (readonly), apply the saved plan
#   pipeline.sh drift      init, plan -detailed-exitcode; exit 0 = no drift, 2 = drift
#                          (drift.json and drift.txt name what changed), 1 = error
#   pipeline.sh all        validate, plan, apply, drift
#
# Environment (a CI system's secret variables; nothing is read from files in the repository):
#   PG_CONN_STR                 the state's PostgreSQL (Terraform's pg backend), e.g.
#                               postgres://rack@db1:5432/terraform?sslmode=verify-full
#   RACK_DNS_*, RACK_DHCP_KEA_* the provider's settings (see the provider's docs)
#   RACK_PROVIDER_MIRROR_URL    the provider network mirror (https://.../); used to write the
#                               runner's CLI configuration unless TF_CLI_CONFIG_FILE is set
#   TF_VAR_*                    the configuration's variables; ephemeral ones (write-only
#                               values) must be set again for the apply stage
#   CONFIG_DIR                  the configuration (default: this script's directory)
#   ARTIFACTS                   where the stages leave their artifacts (default: ./artifacts)
#   TERRAFORM                   the terraform binary (default: terraform on PATH)
#   TF_LOCK_TIMEOUT             how long to wait for the state lock (default: 5m)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CONFIG_DIR="${CONFIG_DIR:-$here}"
ARTIFACTS="${ARTIFACTS:-$PWD/artifacts}"
TERRAFORM="${TERRAFORM:-terraform}"
TF_LOCK_TIMEOUT="${TF_LOCK_TIMEOUT:-5m}"
export TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1

# The runners' working directories, removed when the script ends, also on failure.
runners=()
trap 'rm -rf "${runners[@]}"' EXIT

say() { printf 'pipeline: %s\n' "$*" >&2; }
die() {
    say "error: $*"
    exit 1
}

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'
}

# A fresh working directory holding the configuration's files (and the repository's lock
# file if one is committed), as a runner's checkout; its path on stdout.
fresh_runner() {
    local stage="$1" dir
    dir="$(mktemp -d "${TMPDIR:-/tmp}/rack-ci-$stage-XXXXXX")"
    cp "$CONFIG_DIR"/*.tf "$dir"/
    if [[ -f "$CONFIG_DIR/.terraform.lock.hcl" ]]; then
        cp "$CONFIG_DIR/.terraform.lock.hcl" "$dir"/
    fi
    if [[ -z "${TF_CLI_CONFIG_FILE:-}" ]]; then
        [[ -n "${RACK_PROVIDER_MIRROR_URL:-}" ]] ||
            die "set RACK_PROVIDER_MIRROR_URL (the provider network mirror) or TF_CLI_CONFIG_FILE"
        cli_config "$RACK_PROVIDER_MIRROR_URL" >"$dir/.terraformrc"
    fi
    echo "$dir"
}

# The runner's CLI configuration: rack from the network mirror, nothing else from it.
cli_config() {
    cat <<EOF
disable_checkpoint = true

provider_installation {
  network_mirror {
    url     = "$1"
    include = ["terraform.local/*/*"]
  }
  direct {
    exclude = ["terraform.local/*/*"]
  }
}
EOF
}

tf() {
    local dir="$1"
    shift
    local config="${TF_CLI_CONFIG_FILE:-$dir/.terraformrc}"
    (cd "$dir" && TF_CLI_CONFIG_FILE="$config" "$TERRAFORM" "$@")
}

need_state() {
    [[ -n "${PG_CONN_STR:-}" ]] || die "PG_CONN_STR is not set (the state's PostgreSQL connection string)"
}

stage_validate() {
    local dir
    dir="$(fresh_runner validate)"
    runners+=("$dir")
    say "validate in $dir"
    tf "$dir" fmt -check -diff
    tf "$dir" init -input=false -backend=false -no-color >/dev/null
    tf "$dir" validate -no-color
}

stage_plan() {
    need_state
    local dir code=0
    dir="$(fresh_runner plan)"
    runners+=("$dir")
    say "plan in $dir"
    tf "$dir" init -input=false -no-color
    tf "$dir" plan -input=false -no-color -lock-timeout="$TF_LOCK_TIMEOUT" \
        -detailed-exitcode -out=tfplan || code=$?
    if ((code == 1)); then
        die "terraform plan failed"
    fi
    rm -rf "$ARTIFACTS/plan"
    mkdir -p "$ARTIFACTS/plan"
    cp "$dir/tfplan" "$dir/.terraform.lock.hcl" "$ARTIFACTS/plan/"
    tf "$dir" show -no-color tfplan >"$ARTIFACTS/plan/plan.txt"
    tf "$dir" show -json tfplan >"$ARTIFACTS/plan/plan.json"
    if ((code == 2)); then
        say "the plan has changes: review $ARTIFACTS/plan/plan.txt, then run the apply stage"
    else
        say "the plan has no changes"
    fi
}

stage_apply() {
    need_state
    [[ -f "$ARTIFACTS/plan/tfplan" ]] || die "no saved plan in $ARTIFACTS/plan: run the plan stage first"
    local dir
    dir="$(fresh_runner apply)"
    runners+=("$dir")
    say "apply in $dir"
    # The plan job's lock file: the apply installs exactly the provider the plan used.
    cp "$ARTIFACTS/plan/.terraform.lock.hcl" "$dir/"
    tf "$dir" init -input=false -no-color -lockfile=readonly
    tf "$dir" apply -input=false -no-color -lock-timeout="$TF_LOCK_TIMEOUT" "$ARTIFACTS/plan/tfplan"
}

stage_drift() {
    need_state
    local dir code=0
    dir="$(fresh_runner drift)"
    runners+=("$dir")
    say "drift check in $dir"
    tf "$dir" init -input=false -no-color >/dev/null
    tf "$dir" plan -input=false -no-color -lock-timeout="$TF_LOCK_TIMEOUT" \
        -detailed-exitcode -out=drift.tfplan >"$dir/plan.log" 2>&1 || code=$?
    case "$code" in
    0)
        say "no drift: the infrastructure matches the configuration"
        ;;
    2)
        mkdir -p "$ARTIFACTS/drift"
        tf "$dir" show -json drift.tfplan >"$ARTIFACTS/drift/drift.json"
        tf "$dir" show -no-color drift.tfplan >"$ARTIFACTS/drift/drift.txt"
        say "drift: these resources differ from the configuration (details in $ARTIFACTS/drift/):"
        drifted "$ARTIFACTS/drift/drift.json" >&2
        ;;
    *)
        cat "$dir/plan.log" >&2
        say "error: the drift check failed"
        ;;
    esac
    return "$code"
}

# `  <address> <actions>` for each resource the plan would change, and each resource
# changed outside Terraform, from a plan's JSON.
drifted() {
    jq -r '
      ([.resource_drift[]? | "  \(.address): changed outside Terraform"]
       + [.resource_changes[]? | select(.change.actions != ["no-op"])
          | "  \(.address): \(.change.actions | join(", ")) planned"])
      | unique | .[]' "$1"
}

main() {
    local stage="${1:-}"
    case "$stage" in
    validate | plan | apply | drift) "stage_$stage" ;;
    all)
        stage_validate
        stage_plan
        stage_apply
        stage_drift
        ;;
    -h | --help | "")
        usage
        [[ -n "$stage" ]]
        ;;
    *) die "unknown stage $stage (validate, plan, apply, drift, all)" ;;
    esac
}

main "$@"
