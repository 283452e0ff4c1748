#!/usr/bin/env bash
# Train a config on a Compute Engine VM with NVIDIA GPUs, keeping a copy of the run on a bucket.
#
#   launch/gpu_vm.sh --name=audiolstm-gpu --zone=us-central1-a --bucket=gs://my-bucket/audiolstm \
#     --config=configs/fft.py [--machine-type=g2-standard-8] \
#     [--accelerator=type=nvidia-l4,count=1] [--config.max_steps=50000 ...] [--dry-run]
#   launch/gpu_vm.sh --delete --name=audiolstm-gpu --zone=us-central1-a [--dry-run]
#
# Steps: create the VM from a Deep Learning VM image (NVIDIA driver installed; reused if RUNNING,
# started again if a preemption stopped it), pack this checkout and copy it there (compute scp),
# install it (pip install -e . "jax[cuda12]", in ~/venv: the jax wheels bring their own CUDA
# libraries, only the driver comes from the image), copy the run from the bucket unless the VM's
# disk has it, run audiolstm.main there (compute ssh), and copy the run back to the bucket.
#
# Two ways to keep the run. By default it lives in ~/runs/RUN on the VM's disk (RUN defaults to
# --name; the disk is kept when a spot VM is stopped) and gs://BUCKET/RUN keeps a copy, pulled
# before training (gcloud storage rsync; a new VM resumes from the newest checkpoint pushed) and
# pushed after it: the fastest writes, but a VM lost before the push loses what it trained since
# the last one. With --workdir-on-bucket the work directory is gs://BUCKET/RUN itself (nothing on
# the disk, nothing to copy): every checkpoint is in the bucket as soon as it is saved. Running the
# same command again resumes either way. (--local-workdir, an option of older versions, is
# accepted and ignored.)
#
# Several VMs train as one (jax.distributed) with --num-processes=N --process-id=I
# --coordinator-address=IP:PORT (process 0's VM's internal IP), one command per VM, all with
# --workdir-on-bucket (their checkpoints need one shared place). See launch/README.md.
set -euo pipefail

PROG=gpu_vm.sh
USAGE="launch/gpu_vm.sh --name=NAME --zone=ZONE --bucket=gs://BUCKET[/PATH] --config=CONFIG \
[--config.FIELD=VALUE ...] [--machine-type=g2-standard-8] \
[--accelerator=type=nvidia-l4,count=1|none] [--image-family=common-cu128-ubuntu-2204-nvidia-570] \
[--disk-size=100GB] [--run=RUN] [--project=ID] [--spot] [--python=3.11] [--detach] \
[--workdir-on-bucket [--num-processes=N --process-id=I --coordinator-address=IP:PORT]] [--dry-run] \
| launch/gpu_vm.sh --delete --name=NAME --zone=ZONE [--project=ID] [--dry-run]"
# shellcheck source-path=SCRIPTDIR
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

name='' zone='' bucket='' config='' run_name='' project='' spot=0
machine_type=g2-standard-8 accelerator=type=nvidia-l4,count=1
image_family=common-cu128-ubuntu-2204-nvidia-570 image_project=deeplearning-platform-release
disk_size=100GB python_version=3.11 local_workdir=0 detach=0 delete=0
on_bucket=0 num_processes='' process_id='' coordinator=''
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
    --bucket | --bucket=*) value --bucket "$@"; bucket=$VALUE ;;
    --config | --config=*) value --config "$@"; config=$VALUE ;;
    --machine-type | --machine-type=*) value --machine-type "$@"; machine_type=$VALUE ;;
    --accelerator | --accelerator=*) value --accelerator "$@"; accelerator=$VALUE ;;
    --image-family | --image-family=*) value --image-family "$@"; image_family=$VALUE ;;
    --image-project | --image-project=*) value --image-project "$@"; image_project=$VALUE ;;
    --disk-size | --disk-size=*) value --disk-size "$@"; disk_size=$VALUE ;;
    --run | --run=*) value --run "$@"; run_name=$VALUE ;;
    --project | --project=*) value --project "$@"; project=$VALUE ;;
    --python | --python=*) value --python "$@"; python_version=$VALUE ;;
    --num-processes | --num-processes=*) value --num-processes "$@"; num_processes=$VALUE ;;
    --process-id | --process-id=*) value --process-id "$@"; process_id=$VALUE ;;
    --coordinator-address | --coordinator-address=*)
      value --coordinator-address "$@"; coordinator=$VALUE ;;
    --workdir-on-bucket) on_bucket=1 ;;
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

[[ -n $name ]] || usage_error "missing --name (the VM's name)"
[[ -n $zone ]] || usage_error "missing --zone (one with the GPU type, e.g. us-central1-a for L4)"
[[ $name =~ ^[a-z]([-a-z0-9]*[a-z0-9])?$ ]] ||
  usage_error "--name=$name: use lower-case letters, digits and '-' (a letter first)"
gcloud_opts=("--zone=$zone")
[[ -z $project ]] || gcloud_opts+=("--project=$project")

if ((delete)); then
  require_gcloud
  [[ $DRY_RUN != 1 ]] || note "$PROG --dry-run: the commands it would run (none is run)"
  run gcloud compute instances delete "$name" "${gcloud_opts[@]}" --quiet
  exit 0
fi

[[ -n $bucket ]] || usage_error "missing --bucket (gs://BUCKET/PATH: the work directory goes there)"
[[ -n $config ]] || usage_error "missing --config (e.g. configs/fft.py or configs/vector.py:512)"
check_bucket "$bucket"
check_config "$config"
[[ $accelerator == none || $accelerator =~ ^type=[a-z0-9-]+,count=[0-9]+$ ||
   $accelerator =~ ^count=[0-9]+,type=[a-z0-9-]+$ ]] ||
  usage_error "--accelerator=$accelerator: write type=GPU_TYPE,count=N" \
    "(e.g. type=nvidia-l4,count=1) or none (a2/a3 machine types come with their GPUs)"
run_name=${run_name:-$name}
[[ $run_name =~ ^[A-Za-z0-9][A-Za-z0-9._=,+-]*$ ]] ||
  usage_error "--run=$run_name: use letters, digits and . _ = , + - (it names the work directory)"
bucket_run="${bucket%/}/$run_name"
distributed=()
if [[ -n $num_processes$process_id$coordinator ]]; then
  if ! [[ $num_processes =~ ^[1-9][0-9]*$ && $process_id =~ ^[0-9]+$ ]] ||
    ((process_id >= num_processes)); then
    usage_error "--num-processes=N and --process-id=I go together (0 <= I < N)"
  fi
  [[ $coordinator =~ ^[^:]+:[0-9]+$ ]] ||
    usage_error "--coordinator-address=IP:PORT (process 0's VM) is needed with --num-processes"
  ((on_bucket)) || usage_error "several processes need --workdir-on-bucket (their checkpoints" \
    "need one shared place; a VM's own disk is not)"
  distributed=("--coordinator_address=$coordinator" "--num_processes=$num_processes"
               "--process_id=$process_id")
fi
require_gcloud

archive="${TMPDIR:-/tmp}/audiolstm-src-$name.tar.gz"
[[ $DRY_RUN != 1 ]] || note "$PROG --dry-run: the commands it would run (none is run)"
((local_workdir == 0)) ||
  note "--local-workdir: no longer needed (always so now: the run is on the VM's disk," \
    "synced with the bucket); ignored"

# 1. The VM: create it, reuse it, or start it again after a preemption stopped it.
status=''
if [[ $DRY_RUN == 1 ]]; then
  run gcloud compute instances describe "$name" "${gcloud_opts[@]}" '--format=value(status)'
  note "no such VM yet (a dry run assumes so): create it;" \
    "RUNNING: reuse it; TERMINATED/STOPPED: start it"
else
  status=$(gcloud compute instances describe "$name" "${gcloud_opts[@]}" '--format=value(status)' \
    2>/dev/null || true)
  note "VM $name: ${status:-not found}"
fi
case $status in
  RUNNING) ;;
  '')
    create=(gcloud compute instances create "$name" "${gcloud_opts[@]}"
            "--machine-type=$machine_type" "--image-family=$image_family"
            "--image-project=$image_project" "--boot-disk-size=$disk_size"
            --maintenance-policy=TERMINATE --metadata=install-nvidia-driver=True
            --scopes=cloud-platform)
    [[ $accelerator == none ]] || create+=("--accelerator=$accelerator")
    ((spot == 0)) || create+=(--provisioning-model=SPOT --instance-termination-action=STOP)
    run "${create[@]}"
    ;;
  TERMINATED | STOPPED | SUSPENDED)
    run gcloud compute instances start "$name" "${gcloud_opts[@]}" ;;
  *) echo "$PROG: error: VM $name is $status: wait until it is RUNNING, or delete it (--delete)" >&2
     exit 1 ;;
esac

# 2. The code: this checkout (without runs, environments and git history).
mapfile -d '' pack < <(source_archive_cmd "$archive")
run "${pack[@]}"
retry 10 15 gcloud compute scp "$archive" "$name:audiolstm-src.tar.gz" "${gcloud_opts[@]}"

# 3. Install: wait for the NVIDIA driver (a fresh Deep Learning VM installs it on first boot).
wait_gpu="for i in \$(seq 60); do nvidia-smi > /dev/null 2>&1 && break; sleep 10; done;"
wait_gpu+=" nvidia-smi -L"
run gcloud compute ssh "$name" "${gcloud_opts[@]}" \
  "--command=$wait_gpu; $(remote_install_cmd cuda12 "$python_version")"

# 4. The run: with --workdir-on-bucket it is the bucket; else pull it from there unless the VM's
# disk has it (a reused or restarted VM), train in ~/runs/RUN, then push it back.
if ((on_bucket)); then
  text=$(remote_train_cmd '' "$(quote "$bucket_run")" "$config" "${distributed[@]}" \
    "${overrides[@]}")
else
  run gcloud compute ssh "$name" "${gcloud_opts[@]}" \
    "--command=$(remote_pull_cmd "$run_name" "$bucket_run")"
  # shellcheck disable=SC2016  # $HOME is expanded by the VM's shell
  text=$(remote_train_cmd '' "\$HOME/runs/$run_name" "$config" "${overrides[@]}")
  text=$(remote_train_push_cmd "$text" "$run_name" "$bucket_run")
fi
if ((detach)); then
  # shellcheck disable=SC2088  # the ~ is expanded by the VM's shell
  text=$(remote_detached_cmd "~/audiolstm-$run_name.log" "$text")
fi
run gcloud compute ssh "$name" "${gcloud_opts[@]}" "--command=$text"
if ((detach)); then
  note "follow it: $(quote_all gcloud compute ssh "$name" "${gcloud_opts[@]}" \
    "--command=tail -f ~/audiolstm-$run_name.log")"
fi
if ((on_bucket)); then
  note "results: $bucket_run, written as training goes (fetch: gcloud storage cp -r $bucket_run .)"
  exit 0
fi
if ((detach)); then
  note "the run is pushed to $bucket_run when training ends; to push it sooner (e.g. the" \
    "checkpoints so far):" \
    "$(quote_all gcloud compute ssh "$name" "${gcloud_opts[@]}" \
      "--command=gcloud storage rsync -r ~/runs/$run_name $(quote "$bucket_run")")"
fi
note "results: ~/runs/$run_name on the VM, copied to $bucket_run" \
  "(fetch: gcloud storage cp -r $bucket_run .)"
