#!/usr/bin/env bash
# One training run as a plain SLURM batch job, for users without Hydra's launcher. Arguments are train.py overrides:
#   sbatch scripts/sbatch_train.sh experiment=lenet_mnist model.width=8 seed=0
#   for w in 1 2 4 8; do sbatch scripts/sbatch_train.sh experiment=lenet_mnist model.width=$w; done
#   sbatch --gpus-per-node=4 --ntasks-per-node=4 scripts/sbatch_train.sh trainer=ddp trainer.devices=4
# (--ntasks-per-node must equal trainer.devices: SLURM starts one process per device and Lightning joins them.)
# Requeue owner: this script. USR1 arrives 120 s before the time limit; the trap requeues the job, SLURM stops the
# step (SIGTERM: Lightning stops at the next batch) and later reruns this script with the same overrides, so train.py
# finds the same run dir and resumes from checkpoints/last.ckpt. Lightning's own auto-requeue is off under SLURM
# (src/training.py). `scontrol requeue <id>` and preemption with PreemptMode=REQUEUE take the same path.
#SBATCH --job-name=mirage-train
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=1
#SBATCH --cpus-per-task=2
#SBATCH --mem=8G
#SBATCH --time=01:00:00
#SBATCH --signal=B:USR1@120
#SBATCH --requeue
#SBATCH --open-mode=append
#SBATCH --output=slurm-%x-%j.out
set -euo pipefail

# sbatch runs a copy of this file from the spool dir: find the repository from where the job was submitted
cd "${MIRAGE_ROOT:-${SLURM_SUBMIT_DIR:-$(pwd)}}"
PYTHON="${PYTHON:-.venv/bin/python}"
export OMP_NUM_THREADS="${SLURM_CPUS_PER_TASK:-1}"
export WANDB_MODE="${WANDB_MODE:-offline}"

echo "job ${SLURM_JOB_ID:-?} restart ${SLURM_RESTART_COUNT:-0} on $(hostname): train.py $*"
trap 'echo "USR1: time limit near, requeueing ${SLURM_JOB_ID}"; scontrol requeue "${SLURM_JOB_ID}"' USR1
srun "$PYTHON" train.py "$@" &
step=$!
# `wait` returns early (status > 128) when the trap fires: keep waiting until the step has really ended
while true; do
  status=0
  wait "$step" || status=$?
  kill -0 "$step" 2>/dev/null || break
done
exit "$status"
