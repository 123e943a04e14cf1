#!/usr/bin/env bash
# tests/scripts_deps.sh ROOT — ctest scripts_deps: the scripts parse (bash -n); scripts/deps's
# demo set (scripts/deps --demo, what scripts/demo installs) is part of the full set
# (scripts/test's), builds and runs the demo (compiler, CMake, OpenCL, PoCL, zlib, the data)
# and leaves out the test toolchain; a bad argument exits 2 with a line. Installs nothing.
set -euo pipefail
cd "$1"
fail() { echo "scripts_deps: $*" >&2; exit 1; }
# whether $1 is one of the other arguments (no `printf | grep -q` under pipefail: grep's early
# exit can kill printf with SIGPIPE and fail the pipeline at random)
has() { local x=$1 e; shift; for e; do [[ $e == "$x" ]] && return 0; done; return 1; }
for s in scripts/* .ci/run; do
    [[ $(head -1 "$s") == *bash* ]] && { bash -n "$s" || fail "$s does not parse"; }
done
mapfile -t demo < <(scripts/deps --demo --list)
mapfile -t all < <(scripts/deps --list)
((${#demo[@]} > 0)) || fail "scripts/deps --demo --list printed nothing"
for p in "${demo[@]}"; do
    has "$p" "${all[@]}" || fail "$p is in the demo set, not in the full set"
done
for p in build-essential cmake ocl-icd-opencl-dev opencl-headers pocl-opencl-icd zlib1g-dev \
         dataset-fashion-mnist; do
    has "$p" "${demo[@]}" || fail "the demo set lacks $p"
done
for p in python3-torch python3-pyopencl clang libclang-rt-14-dev valgrind oclgrind libcmocka-dev; do
    has "$p" "${demo[@]}" && fail "the demo set holds $p (a test tool)"
    has "$p" "${all[@]}" || fail "the full set lacks $p"
done
grep -qx 'scripts/deps --demo' scripts/demo || fail "scripts/demo does not run scripts/deps --demo"
grep -qx 'scripts/deps' scripts/test || fail "scripts/test does not run scripts/deps (everything)"
rc=0
err=$(scripts/deps --bogus 2>&1 >/dev/null) || rc=$?
((rc == 2)) || fail "scripts/deps --bogus exited with $rc, not 2"
[[ $err == *"unknown argument '--bogus'"* ]] || fail "scripts/deps --bogus said: $err"
echo "scripts_deps: demo set ${#demo[@]} packages, full set ${#all[@]}"
