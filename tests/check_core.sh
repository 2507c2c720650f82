#!/usr/bin/env bash
# The core library does no I/O: every symbol it needs from outside itself
# is a libm function or a memory/string routine of libc. Nothing of stdio,
# files, sockets, threads, clocks, MQTT, JSON, YAML or HTTP. The same check
# run on the format library (which reads files) must fail, so the check is
# known to bite. The core's archives are checked together: the core and
# the pure part of base it links (rng).
# usage: check_core.sh LIBFORMAT.a LIBCORE.a [LIBPURE.a ...]
set -euo pipefail
format=$1
shift
core=("$@")
libm=$(ldconfig -p | awk '/libm\.so\.6 .*x86-64|libm\.so\.6 \(libc6,/ && !p {p = $NF} END {print p}')
[ -n "$libm" ] || libm=$(gcc -print-file-name=libm.so.6)

# Symbols the archives need from outside themselves.
external() {
	comm -23 <(nm -u "$@" | awk 'NF == 2 {print $2}' | sort -u) \
		<(nm --defined-only "$@" | awk 'NF == 3 {print $3}' | sort -u)
}
# (clang calls bcmp, libc's memcmp for equality, where the code says memcmp.)
allowed() {
	nm -D --defined-only "$libm" | awk '{print $3}' | sed 's/@.*//'
	printf '%s\n' malloc calloc realloc free memcpy memmove memset memcmp bcmp \
		strcmp strncmp strlen strnlen strchr strrchr qsort bsearch \
		__stack_chk_fail _GLOBAL_OFFSET_TABLE_ \
		__cpu_model __cpu_indicator_init aligned_alloc
}
# Sanitizer and coverage hooks of instrumented builds are not the code's own.
outside() {
	external "$@" | grep -Ev '^(__asan|__ubsan|__sanitizer|__lsan|__sancov|__llvm)' |
		grep -vxF -f <(allowed) || true
}

bad=$(outside "${core[@]}")
if [ -n "$bad" ]; then
	echo "core library needs symbols it must not use:" >&2
	echo "$bad" >&2
	exit 1
fi
echo "core: $(external "${core[@]}" | wc -l) external symbols, all libm or memory/string"
if [ -z "$(outside "$format" | grep -E '^(fopen|open|read|fread)$' || true)" ]; then
	echo "the check found no file I/O in the format library: it cannot bite" >&2
	exit 1
fi
echo "format library: file I/O seen, as expected"
