#!/usr/bin/env bash
# python/tests/data/make_sharded.sh BUILD — the test data of optcl.load_sharded
# (python/tests/test_checkpoint_sharded.py): 8 steps of AMSGrad, LAMB and Adafactor over 329
# parameters in three tensors (one matrix), saved by 2 ranks as a sharded checkpoint
# (element-wise AMSGrad cuts the matrix between the ranks; LAMB and Adafactor keep each tensor
# whole, Adafactor's factored state in its own shape) and by one process as an ordinary
# checkpoint, which the gathered sharded one must equal bit for bit.
set -euo pipefail
build=${1:?usage: make_sharded.sh BUILD}
here=$(cd "$(dirname "$0")" && pwd)
cli=$(cd "$build" && pwd)/optcl
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
/usr/bin/python3 - "$scratch" <<'PY'
import sys
import numpy as np
rng = np.random.default_rng(7)
np.save(f"{sys.argv[1]}/p0.npy", rng.uniform(-1, 1, 329).astype(np.float32))
np.save(f"{sys.argv[1]}/g.npy", rng.uniform(-1, 1, (8, 329)).astype(np.float32))
PY
export OMPI_MCA_btl_vader_single_copy_mechanism=none POCL_MAX_PTHREAD_COUNT=1
mpi=(mpirun --allow-run-as-root -q -n 2)
for run in "adam amsgrad=1" "lamb weight_decay=0.01" "adafactor lr=0.01"; do
    set -- $run
    name=$1
    args=(replay "$@" --params "$scratch/p0.npy" --grads "$scratch/g.npy" --backend reference
          tensors=13x17,17,91 --out "$scratch/rows.npy")
    rm -rf "${here:?}/sharded_$name"
    mkdir -p "$here/sharded_$name"
    "${mpi[@]}" "$cli" "${args[@]}" --distributed --save-state "$here/sharded_$name/ck"
    "$cli" "${args[@]}" --save-state "$here/single_$name.safetensors"
done
ls -l "$here"/sharded_* "$here"/single_*
