#!/usr/bin/env bash
# docs/iotad.1 is what scripts/gen-man.py makes of the current --help texts,
# and it renders without a warning (groff -ww; man -l when man is installed);
# it documents the formats, signals, files and exit status, and `meson
# install` installs it (with BUILDDIR).
# usage: check_man.sh IOTAD SRCDIR [BUILDDIR]
set -euo pipefail
exe=$1 src=$2 page=$2/docs/iotad.1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 "$src/scripts/gen-man.py" "$exe" > "$tmp/iotad.1"
if ! diff -u "$page" "$tmp/iotad.1" > "$tmp/diff"; then
	head -40 "$tmp/diff"
	echo "docs/iotad.1 is out of date: scripts/gen-man.py build/src/iotad > docs/iotad.1" >&2
	exit 1
fi
for c in run train sim eval config quantize; do
	grep -q "^\.SS iotad $c\$" "$page" || { echo "no section for iotad $c" >&2; exit 1; }
done
for s in "TELEMETRY FORMAT" EVENTS "STATE FILE" SIGNALS "EXIT STATUS" ENVIRONMENT FILES; do
	grep -q "^\.SH $s\$" "$page" || { echo "no section $s" >&2; exit 1; }
done
if [ -n "${3:-}" ]; then
	meson introspect --installed "$3" | grep -q '/man1/iotad\.1"' ||
		{ echo "meson install does not install docs/iotad.1" >&2; exit 1; }
fi
if ! command -v groff > /dev/null; then
	echo "groff is not installed: rendering not checked" >&2
	exit 77
fi
groff -man -Tutf8 -ww -z "$page" 2> "$tmp/warn"
if [ -s "$tmp/warn" ]; then
	cat "$tmp/warn" >&2
	exit 1
fi
if command -v man > /dev/null; then
	MANWIDTH=80 man --warnings -l "$page" > "$tmp/out" 2> "$tmp/warn"
	if [ -s "$tmp/warn" ]; then
		cat "$tmp/warn" >&2
		exit 1
	fi
	grep -q "POST /v1/score" "$tmp/out" || { echo "rendered page lacks the HTTP section" >&2; exit 1; }
fi
echo "docs/iotad.1 is current and renders cleanly"
