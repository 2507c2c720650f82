#!/usr/bin/env bash
# Each room's library calls into no room it does not link: of the symbols a
# library takes from outside itself, those that some room of the project
# defines must be defined by the rooms it may use.
# The map below mirrors the dependencies declared in src/*/meson.build.
# usage: check_rooms.sh BUILD_SRC_DIR
set -euo pipefail
src=$1
declare -A uses=(
	[base_pure]=""
	[base]="base_pure"
	[core]="base_pure"
	[format]="core base base_pure"
	[learn]="core base base_pure"
	[sim]="core base base_pure"
	[eval]="learn format core base base_pure"
	[service]="format learn core base base_pure"
	[cli]="service eval sim learn format core base base_pure"
)
lib() { local d=${1%_pure}; echo "$src/$d/libiotad_$1.a"; }
# each library's defined symbols, read once (nm is slow on a loaded machine)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for r in "${!uses[@]}"; do
	nm --defined-only "$(lib "$r")" | awk 'NF == 3 && $2 ~ /[TDBR]/ {print $3}' > "$tmp/$r"
done
defined() { cat "$tmp/$1"; }
all=$(for r in "${!uses[@]}"; do defined "$r"; done | sort -u)
bad=0
for r in "${!uses[@]}"; do
	mine=$(defined "$r" | sort -u)
	allowed=$(for u in ${uses[$r]}; do defined "$u"; done | sort -u)
	need=$(nm -u "$(lib "$r")" | awk 'NF == 2 {print $2}' | sort -u | comm -23 - <(echo "$mine"))
	leak=$(comm -12 <(echo "$need") <(echo "$all") | comm -23 - <(echo "$allowed"))
	if [ -n "$leak" ]; then
		echo "room $r calls into rooms it does not link: $(echo $leak)" >&2
		bad=1
	fi
done
[ "$bad" = 0 ] && echo "every room calls only the rooms it links"
exit $bad
