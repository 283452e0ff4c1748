#!/usr/bin/env bash
# Train a config on a Cloud TPU VM, keeping a copy of the work directory on a Cloud Storage bucket.
#
#   launch/tpu_vm.sh --name=audiolstm-v4 --zone=us-central2-b --accelerator-type=v4-8 \
#     --version=tpu-ubuntu2204-base --bucket=gs://my-bucket/audiolstm \
#     --config=configs/fft.py [--config.max_steps=50000 ...] [--dry-run]
#   launch/tpu_vm.sh --delete --name=audiolstm-v4 --zone=us-central2-b [--dry-run]
#
# Steps: create the VM (reused if it is READY; deleted and created again if it was preempted),
# pack this checkout and copy it to every worker (tpu-vm scp --worker=all), install it there
# (pip install -e . "jax[tpu]", in ~/venv), copy the run from the bucket to worker 0 unless its
# disk has it, then run audiolstm.main on every worker at once (tpu-vm ssh --worker=all) with
# AUDIOLSTM_MULTIHOST=1, so that the workers of a pod slice join one jax.distributed runtime
# (harmless on a single-host slice such as v4-8), and copy the run back to the bucket at the end.
#
# The trainer writes its work directory on a local disk only (no gs:// workdirs): the run lives in
# ~/runs/RUN on worker 0 (RUN defaults to --name); gs://BUCKET/RUN keeps a copy, pulled before
# training (gcloud storage rsync; a new VM, after a preemption say, resumes from the newest
# checkpoint pushed) and pushed after it. Running the same command again resumes.
# (--local-workdir, once the option for this, is accepted and ignored.)
#
# Single-host slices only (v4-8, v5litepod-8, v6e-8, ...): the checkpoints of a multi-host run
# need a filesystem shared by the workers, which this version does not provide; on a pod slice
# each worker writes its own ~/runs/RUN and only worker 0's is synced. See launch/README.md.
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

# tpu_workers TYPE: the number of workers (hosts) of a TPU type, or nothing for a type not known
# here. v2, v3, v4, v5p: the number counts TensorCores, 8 per host; v5e, v6e: chips, 8 on a
# single-host slice, 4 per host on a multi-host one.
tpu_workers() {
  local n
  if [[ $1 =~ ^v(2|3|4|5p)-([0-9]+)$ ]]; then
    n=${BASH_REMATCH[2]}
    echo $(((n + 7) / 8))
  elif [[ $1 =~ ^(v5litepod|v5e|v6e)-([0-9]+)$ ]]; then
    n=${BASH_REMATCH[2]}
    if ((n <= 8)); then echo 1; else echo $(((n + 3) / 4)); fi
  fi
}

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
  note "--local-workdir: no longer needed (always so now: the run is on the VM's disk," \
    "synced with the bucket); ignored"
workers=$(tpu_workers "$accelerator")
multihost="checkpoints of a multi-host run need a filesystem shared by its workers, which this\
 version does not provide: each worker writes its own ~/runs/$run_name and only worker 0's is\
 pulled from and pushed to $bucket_run, so the copy there may not resume. For now train on a\
 single-host slice (v4-8, v5litepod-8, v6e-8, ...), or accept that only worker 0's run directory\
 is synced."
if [[ -z $workers ]]; then
  note "warning: $accelerator: number of workers (hosts) not known here; if it has more than one:" \
    "$multihost"
elif ((workers > 1)); then
  note "warning: $accelerator is a multi-host slice ($workers workers): $multihost"
fi

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

# 4. The run: worker 0 pulls it from the bucket unless its disk has it (a reused VM).
run "${tpu[@]}" ssh "$name" "${gcloud_opts[@]}" --worker=0 \
  "--command=$(remote_pull_cmd "$run_name" "$bucket_run")"

# 5. Train on every worker at once (one jax.distributed runtime over the slice) in ~/runs/RUN,
# then worker 0 pushes the run to the bucket.
# shellcheck disable=SC2016  # $HOME is expanded by the VM's shell
text=$(remote_train_cmd AUDIOLSTM_MULTIHOST=1 "\$HOME/runs/$run_name" "$config" "${overrides[@]}")
text=$(remote_train_push_cmd "$text" "$run_name" "$bucket_run" 1)
if ((detach)); then
  # shellcheck disable=SC2088  # the ~ is expanded by the VM's shell
  text=$(remote_detached_cmd "~/audiolstm-$run_name.log" "$text")
fi
run "${tpu[@]}" ssh "$name" "${gcloud_opts[@]}" --worker=all "--command=$text"
if ((detach)); then
  note "follow it: $(quote_all "${tpu[@]}" ssh "$name" "${gcloud_opts[@]}" --worker=0 \
    "--command=tail -f ~/audiolstm-$run_name.log")"
  note "the run is pushed to $bucket_run when training ends; to push it sooner (e.g. the" \
    "checkpoints so far, so that a preemption loses less):" \
    "$(quote_all "${tpu[@]}" ssh "$name" "${gcloud_opts[@]}" --worker=0 \
      "--command=gcloud storage rsync -r ~/runs/$run_name $(quote "$bucket_run")")"
fi
note "results: ~/runs/$run_name on worker 0, copied to $bucket_run" \
  "(fetch: gcloud storage cp -r $bucket_run .)"
