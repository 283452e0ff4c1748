#!/usr/bin/env bash
# Train a config on a Cloud TPU VM (one host or a multi-host pod slice), the work directory on a
# Cloud Storage bucket.
#
#   launch/tpu_vm.sh --name=audiolstm-v4 --zone=us-central2-b --accelerator-type=v4-16 \
#     --version=tpu-ubuntu2204-base --bucket=gs://my-bucket/audiolstm \
#     --config=configs/fft.py [--config.max_steps=50000 ...] [--dry-run]
#   launch/tpu_vm.sh --delete --name=audiolstm-v4 --zone=us-central2-b [--dry-run]
#
# Steps: create the VM (reused if it is READY; deleted and created again if it was preempted),
# pack this checkout and copy it to every worker (tpu-vm scp --worker=all), install it there
# (pip install -e . "jax[tpu]", in ~/venv), then run audiolstm.main on every worker at once
# (tpu-vm ssh --worker=all) with AUDIOLSTM_MULTIHOST=1, so that the workers of a pod slice join one
# jax.distributed runtime (harmless on a single-host slice such as v4-8).
#
# The bucket is the run: every worker trains with --workdir=gs://BUCKET/RUN (RUN defaults to
# --name); process 0 writes the metrics, dreams and pictures there, and all workers write their
# shards of each checkpoint there (orbax). Nothing is copied to or from a VM's disk. Running the
# same command again (after a preemption, say: the VM is created anew) resumes from the newest
# checkpoint in the bucket. (--local-workdir, an option of older versions, is accepted and
# ignored.) See launch/README.md.
set -euo pipefail

PROG=tpu_vm.sh
USAGE="launch/tpu_vm.sh --name=NAME --zone=ZONE --accelerator-type=TYPE --version=RUNTIME \
--bucket=gs://BUCKET[/PATH] --config=CONFIG [--config.FIELD=VALUE ...] [--run=RUN] [--project=ID] \
[--spot] [--python=3.11] [--detach] [--dry-run] | launch/tpu_vm.sh --delete \
--name=NAME --zone=ZONE [--project=ID] [--dry-run]"
# shellcheck source-path=SCRIPTDIR
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

name='' zone='' accelerator='' version='' bucket='' config='' run_name='' project='' spot=0
python_version=3.11 local_workdir=0 detach=0 delete=0
overrides=()

# value OPTION ARG NEXT: the value of --option=VALUE or --option VALUE (sets SHIFT to 1 or 2).
value() {
  if [[ $2 == *=* ]]; then
    VALUE=${2#*=}
    SHIFT=1
  elif (($# >= 3)) && [[ $3 != --* ]]; then
    VALUE=$3
    SHIFT=2
  else
    usage_error "$1 needs a value"
  fi
  [[ -n $VALUE ]] || usage_error "$1 needs a value"
}

while (($#)); do
  SHIFT=1
  case $1 in
    --name | --name=*) value --name "$@"; name=$VALUE ;;
    --zone | --zone=*) value --zone "$@"; zone=$VALUE ;;
    --accelerator-type | --accelerator-type=*) value --accelerator-type "$@"; accelerator=$VALUE ;;
    --version | --version=*) value --version "$@"; version=$VALUE ;;
    --bucket | --bucket=*) value --bucket "$@"; bucket=$VALUE ;;
    --config | --config=*) value --config "$@"; config=$VALUE ;;
    --run | --run=*) value --run "$@"; run_name=$VALUE ;;
    --project | --project=*) value --project "$@"; project=$VALUE ;;
    --python | --python=*) value --python "$@"; python_version=$VALUE ;;
    --config.*) check_override "$1"; overrides+=("$1") ;;
    --spot) spot=1 ;;
    --local-workdir) local_workdir=1 ;;
    --detach) detach=1 ;;
    --delete) delete=1 ;;
    --dry-run) DRY_RUN=1 ;;
    -h | --help) echo "usage: $USAGE"; exit 0 ;;
    *) usage_error "unknown argument: $1" ;;
  esac
  shift "$SHIFT"
done

[[ -n $name ]] || usage_error "missing --name (the TPU VM's name)"
[[ -n $zone ]] || usage_error "missing --zone (e.g. us-central2-b for v4, us-west4-a for v5e)"
[[ $name =~ ^[a-z]([-a-z0-9]*[a-z0-9])?$ ]] ||
  usage_error "--name=$name: use lower-case letters, digits and '-' (a letter first)"
gcloud_opts=("--zone=$zone")
[[ -z $project ]] || gcloud_opts+=("--project=$project")

if ((delete)); then
  require_gcloud
  [[ $DRY_RUN != 1 ]] || note "$PROG --dry-run: the commands it would run (none is run)"
  run gcloud compute tpus tpu-vm delete "$name" "${gcloud_opts[@]}" --quiet
  exit 0
fi

[[ -n $accelerator ]] || usage_error "missing --accelerator-type (e.g. v4-8, v5litepod-16)"
[[ -n $version ]] ||
  usage_error "missing --version (the TPU runtime, e.g. tpu-ubuntu2204-base for v4," \
    "v2-alpha-tpuv5-lite for v5e)"
[[ -n $bucket ]] || usage_error "missing --bucket (gs://BUCKET/PATH: the work directory goes there)"
[[ -n $config ]] || usage_error "missing --config (e.g. configs/fft.py or configs/vector.py:512)"
check_bucket "$bucket"
check_config "$config"
run_name=${run_name:-$name}
[[ $run_name =~ ^[A-Za-z0-9][A-Za-z0-9._=,+-]*$ ]] ||
  usage_error "--run=$run_name: use letters, digits and . _ = , + - (it names the work directory)"
bucket_run="${bucket%/}/$run_name"
require_gcloud

tpu=(gcloud compute tpus tpu-vm)
archive="${TMPDIR:-/tmp}/audiolstm-src-$name.tar.gz"
[[ $DRY_RUN != 1 ]] || note "$PROG --dry-run: the commands it would run (none is run)"
((local_workdir == 0)) ||
  note "--local-workdir: not used on a TPU VM (the work directory is $bucket_run, on the" \
    "bucket); ignored"

# 1. The VM: create it, reuse it, or replace a preempted one.
state=''
if [[ $DRY_RUN == 1 ]]; then
  run "${tpu[@]}" describe "$name" "${gcloud_opts[@]}" '--format=value(state)'
  note "no such VM yet (a dry run assumes so): create it;" \
    "READY: reuse it; PREEMPTED/TERMINATED: delete it and create it again"
else
  state=$("${tpu[@]}" describe "$name" "${gcloud_opts[@]}" '--format=value(state)' 2>/dev/null \
    || true)
  note "VM $name: ${state:-not found}"
fi
case $state in
  READY) ;;
  '' | PREEMPTED | TERMINATED | STOPPED | SUSPENDED)
    if [[ -n $state ]]; then
      run "${tpu[@]}" delete "$name" "${gcloud_opts[@]}" --quiet
    fi
    create=("${tpu[@]}" create "$name" "${gcloud_opts[@]}" "--accelerator-type=$accelerator"
            "--version=$version")
    ((spot == 0)) || create+=(--spot)
    run "${create[@]}"
    ;;
  *) echo "$PROG: error: VM $name is $state: wait until it is READY, or delete it (--delete)" >&2
     exit 1 ;;
esac

# 2. The code: this checkout (without runs, environments and git history) to every worker.
mapfile -d '' pack < <(source_archive_cmd "$archive")
run "${pack[@]}"
retry 5 20 "${tpu[@]}" scp "$archive" "$name:audiolstm-src.tar.gz" "${gcloud_opts[@]}" --worker=all

# 3. Install on every worker.
run "${tpu[@]}" ssh "$name" "${gcloud_opts[@]}" --worker=all \
  "--command=$(remote_install_cmd tpu "$python_version")"

# 4. Train on every worker at once (one jax.distributed runtime over the slice), the work
# directory on the bucket.
text=$(remote_train_cmd AUDIOLSTM_MULTIHOST=1 "$(quote "$bucket_run")" "$config" "${overrides[@]}")
if ((detach)); then
  # shellcheck disable=SC2088  # the ~ is expanded by the VM's shell
  text=$(remote_detached_cmd "~/audiolstm-$run_name.log" "$text")
fi
run "${tpu[@]}" ssh "$name" "${gcloud_opts[@]}" --worker=all "--command=$text"
if ((detach)); then
  note "follow it: $(quote_all "${tpu[@]}" ssh "$name" "${gcloud_opts[@]}" --worker=0 \
    "--command=tail -f ~/audiolstm-$run_name.log")"
fi
note "results: $bucket_run, written as training goes (fetch: gcloud storage cp -r $bucket_run .)"
