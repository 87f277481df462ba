#!/bin/sh
# cross_compiler's --run_under launcher: run-under.sh QEMU ROOT MACHINE:CLASS:DATA TEST [ARGS]
# The test runs through a shell with the exec shim (execshim.so, beside this file)
# preloaded: a target ELF (a cc_test, or a binary a script calls) runs under qemu-user with
# ROOT's runtime, anything else (a script, a host program) runs natively.
CROSS_COMPILER_QEMU=$1
CROSS_COMPILER_QEMU_ROOT=$2
CROSS_COMPILER_ELF_MACHINE=$3
export CROSS_COMPILER_QEMU CROSS_COMPILER_QEMU_ROOT CROSS_COMPILER_ELF_MACHINE
here=$(cd "${0%/*}" && pwd -P) || exit 127
LD_PRELOAD="$here/execshim.so${LD_PRELOAD:+:$LD_PRELOAD}"
export LD_PRELOAD
shift 3
# This shell was started without the shim; the one exec'd here has it and its exec decides.
exec /bin/sh -c 'exec "$@"' sh "$@"
