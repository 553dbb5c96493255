#!/usr/bin/env bash
# run_ddp.sh — runs test_ddp under `mpirun -np 2` on this machine.
# usage: run_ddp.sh HAVE_MPI(0|1) MPIRUN|"" TEST_DDP [MODE]
# Exit 77 (skip) when libsimvtp was built without MPI or mpirun is missing.
# Works as root (CI) and in containers without ssh or ptrace.
set -u
have_mpi=$1 mpirun=$2 exe=$3 mode=${4:-full}
if [ "$have_mpi" != 1 ]; then
    echo "SKIP: libsimvtp was built without MPI (-Dmpi)"; exit 77
fi
if [ -z "$mpirun" ] || ! command -v "$mpirun" >/dev/null 2>&1; then
    echo "SKIP: mpirun not found (apt-get install openmpi-bin)"; exit 77
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_plm_rsh_agent=          # single node: never look for ssh/rsh
export OMPI_MCA_btl_vader_single_copy_mechanism=none  # no CMA/ptrace in containers
export OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_mpi_yield_when_idle=1  # busy CI runners: a waiting rank gives its core back
export SIMVTP_TEST_TMPDIR=${SIMVTP_TEST_TMPDIR:-${TMPDIR:-/tmp}}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} OPENBLAS_NUM_THREADS=1
exec "$mpirun" --allow-run-as-root --oversubscribe --bind-to none -np 2 \
    -x OMP_NUM_THREADS -x OPENBLAS_NUM_THREADS -x SIMVTP_TEST_TMPDIR \
    "$exe" "$mode"
