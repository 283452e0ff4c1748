# Shared helpers of launch/tpu_vm.sh and launch/gpu_vm.sh (sourced, not run).
#
# Every cloud command goes through `run`: with DRY_RUN=1 it is printed (shell-quoted, so the line
# can be pasted into a terminal) and not run; otherwise it is echoed to stderr and run.
# shellcheck shell=bash

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DRY_RUN=${DRY_RUN:-0}
PROG=${PROG:-launch}

# Paths left out of the code archive copied to the VM (runs, environments, caches, git history).
SOURCE_EXCLUDES=(./.git ./runs ./venv ./.venv ./build ./dist ./.whl ./.gl '*.egg-info'
                 __pycache__ .pytest_cache .ipynb_checkpoints)

# usage_error MESSAGE: one line on stderr, the usage line, exit status 2.
usage_error() {
  echo "$PROG: error: $*" >&2
  echo "usage: $USAGE" >&2
  exit 2
}

# quote ARG: ARG as one shell word: unchanged when it needs no quoting, else in single quotes, or
# in double quotes when it holds single quotes but nothing double quotes would expand.
quote() {
  local s=$1
  if [[ -n $s && $s =~ ^[A-Za-z0-9_./:=@,+%-]+$ ]]; then
    printf '%s' "$s"
  elif [[ $s != *\'* ]]; then
    printf "'%s'" "$s"
  elif [[ $s != *[\$\`\"\\!]* ]]; then
    printf '"%s"' "$s"
  else
    printf "'%s'" "${s//\'/\'\\\'\'}"
  fi
}

# quote_all ARGS...: the arguments as one shell-quoted command line.
quote_all() {
  local out='' arg
  for arg in "$@"; do
    out+="${out:+ }$(quote "$arg")"
  done
  printf '%s' "$out"
}

# run CMD...: print (dry run) or echo and run a command.
run() {
  if [[ $DRY_RUN == 1 ]]; then
    quote_all "$@"
    echo
  else
    echo "+ $(quote_all "$@")" >&2
    "$@"
  fi
}

# note TEXT: a comment line in the dry-run listing (stderr in a real run).
note() {
  if [[ $DRY_RUN == 1 ]]; then
    echo "# $*"
  else
    echo "$PROG: $*" >&2
  fi
}

# retry N SECONDS CMD...: run a command up to N times, SECONDS apart (a fresh VM takes a while
# to accept ssh); a dry run prints it once.
retry() {
  local tries=$1 pause=$2 i
  shift 2
  if [[ $DRY_RUN == 1 ]]; then
    run "$@"
    return
  fi
  for ((i = 1; i <= tries; i++)); do
    if run "$@"; then
      return 0
    fi
    if ((i < tries)); then
      echo "$PROG: attempt $i of $tries failed; trying again in $pause s" >&2
      sleep "$pause"
    fi
  done
  return 1
}

# require_gcloud: a real run needs the Google Cloud CLI (a dry run never does).
require_gcloud() {
  if [[ $DRY_RUN != 1 ]] && ! command -v gcloud >/dev/null 2>&1; then
    echo "$PROG: error: gcloud not found: install the Google Cloud CLI" \
      "(https://cloud.google.com/sdk/docs/install) and run 'gcloud auth login'," \
      "or use --dry-run" >&2
    exit 2
  fi
}

# check_config PATH[:ARG]: the config file must exist in this checkout (it is copied to the VM).
check_config() {
  local path=${1%%:*}
  [[ -f $REPO_ROOT/$path ]] ||
    usage_error "config file not found: $path (give it relative to the repository root," \
      "e.g. configs/fft.py)"
}

# check_override ARG: --config.FIELD=VALUE, passed through to audiolstm.main unchanged.
check_override() {
  [[ $1 =~ ^--config\.[A-Za-z_][A-Za-z0-9_]*=.*$ ]] ||
    usage_error "$1: config overrides are written --config.FIELD=VALUE (one argument, with '=')"
}

# check_bucket URL: a Cloud Storage URL gs://BUCKET[/PATH].
check_bucket() {
  [[ $1 =~ ^gs://[a-z0-9][-a-z0-9_.]*[a-z0-9](/.*)?$ ]] ||
    usage_error "--bucket=$1 is not a Cloud Storage URL: write gs://BUCKET or gs://BUCKET/PATH"
}

# source_archive PATH: command that packs this checkout (without runs and caches) into PATH.
source_archive_cmd() {
  local cmd=(tar -czf "$1") pattern
  for pattern in "${SOURCE_EXCLUDES[@]}"; do
    cmd+=("--exclude=$pattern")
  done
  cmd+=(-C "$REPO_ROOT" .)
  printf '%s\0' "${cmd[@]}"
}

# remote_install_cmd JAX_EXTRA PYTHON_VERSION: shell text run on the VM: unpack the code into
# ~/audiolstm, make ~/venv (uv fetches a Python of that version if the image's is older), and
# install the package (with gcsfs, for gs:// work directories) and the jax extra.
remote_install_cmd() {
  local extra=$1 python=$2
  # shellcheck disable=SC2088  # the ~ is expanded by the VM's shell
  printf '%s' "set -e; rm -rf ~/audiolstm; mkdir -p ~/audiolstm; " \
    "tar -xzf ~/audiolstm-src.tar.gz -C ~/audiolstm; cd ~/audiolstm; " \
    "if [ ! -x ~/venv/bin/python ]; then python3 -m pip install -q --user uv; " \
    "python3 -m uv venv --seed --python $python ~/venv; fi; " \
    "~/venv/bin/pip install -q -e $(quote ".[gcs]") $(quote "jax[$extra]")"
}

# remote_train_cmd ENV WORKDIR_WORD CONFIG OVERRIDES...: shell text run on the VM (in
# ~/audiolstm) that trains. ENV: assignments put before python ('' for none); WORKDIR_WORD: the
# workdir as shell text (already quoted; may use $HOME).
remote_train_cmd() {
  local env=$1 workdir=$2 config=$3
  shift 3
  local py
  # shellcheck disable=SC2088  # the ~ is expanded by the VM's shell
  py="~/venv/bin/python -m audiolstm.main $(quote "--config=$config") --workdir=$workdir"
  if (($#)); then
    py+=" $(quote_all "$@")"
  fi
  printf '%s' "cd ~/audiolstm && ${env:+env $env }$py"
}

# A GPU VM may keep its run on its own disk (~/runs/RUN) with the bucket holding a copy, pulled
# before training and pushed after it (remote_pull_cmd, remote_push_cmd); a TPU VM, and a GPU VM
# with --workdir-on-bucket, trains with the work directory on the bucket itself (no copies).

# remote_pull_cmd RUN BUCKET_WORKDIR: shell text run on the VM before training. If the disk has
# the run (~/runs/RUN: a VM that kept its disk), train on from it; else copy the bucket's copy
# there (into ~/runs/RUN.part first, so that a copy cut short is never taken for the run), so that
# a new VM resumes from the newest checkpoint pushed; nothing in the bucket: a new run. Exit status
# 1 if the bucket cannot be read or the copy fails: training from scratch would then push over the
# bucket's copy of the run.
remote_pull_cmd() {
  local run=$1 url=$2 bucket cannot
  bucket=$(quote "$url")
  cannot="cannot read $url, so not training (the service account of the VM needs read and write"
  cannot+=" access to the bucket)"
  # shellcheck disable=SC2016,SC2088  # $out and ~ are expanded by the VM's shell
  printf '%s' "mkdir -p ~/runs || exit 1; " \
    "if [ -d ~/runs/$run ]; then " \
    "echo $(quote "$run: using the copy on this disk, ~/runs/$run (not pulled from $url)"); " \
    "elif out=\$(gcloud storage ls $bucket 2>&1); then " \
    "echo $(quote "$run: pulling $url to ~/runs/$run"); " \
    "rm -rf ~/runs/$run.part && mkdir ~/runs/$run.part && " \
    "gcloud storage rsync -r $bucket ~/runs/$run.part && " \
    "mv ~/runs/$run.part ~/runs/$run || exit 1; " \
    "elif printf '%s\\n' \"\$out\" | grep -q 'matched no objects'; then " \
    "echo $(quote "$run: a new run (nothing at $url yet)"); " \
    "else printf '%s\\n' \"\$out\" >&2; echo $(quote "$cannot") >&2; exit 1; fi"
}

# remote_push_cmd RUN BUCKET_WORKDIR: shell text that copies ~/runs/RUN to the bucket (new and
# changed files; nothing in the bucket is deleted). Sets rc to 1 if the copy fails and rc was 0.
remote_push_cmd() {
  local run=$1 url=$2
  printf '%s' "if [ -d ~/runs/$run ]; then " \
    "gcloud storage rsync -r ~/runs/$run $(quote "$url") || " \
    "{ echo $(quote "could not copy ~/runs/$run to $url (it is still on this disk)") >&2; " \
    "if [ \$rc = 0 ]; then rc=1; fi; }; fi"
}

# remote_train_push_cmd TRAIN_TEXT RUN BUCKET_WORKDIR: shell text that trains, then pushes the
# run to the bucket (also when training failed: its checkpoints are kept), exit status that of
# training (1 if it succeeded but the push failed).
remote_train_push_cmd() {
  local train=$1 run=$2 url=$3
  printf '%s' "$train; rc=\$?; $(remote_push_cmd "$run" "$url"); exit \$rc"
}

# remote_detached_cmd LOG TEXT: TEXT run with nohup in the background, output in LOG (on the VM),
# so that it goes on when the ssh session ends.
remote_detached_cmd() {
  local log=$1 text=$2
  printf '%s' "nohup bash -c $(quote "$text") > $log 2>&1 < /dev/null &" \
    " echo 'started; output in $log'"
}
