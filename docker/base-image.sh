#!/usr/bin/env bash
# Builds the debian:12 base image of docker/Dockerfile locally, for machines
# that cannot pull from an image registry: debootstrap (minbase) from the
# Debian mirror this machine's apt already uses, then `docker import`.
# Does nothing when the image exists. Needs root, debootstrap and docker.
#
#   docker/base-image.sh [TAG]        (default debian:12)
#   IOTAD_DEBIAN_MIRROR=http://... docker/base-image.sh   another mirror
set -euo pipefail
tag=${1:-debian:12}
suite=bookworm

if docker image inspect "$tag" >/dev/null 2>&1; then
	exit 0
fi

# "URI SUITE COMPONENTS..." for every bookworm entry of apt's sources, in
# both the one-line (sources.list) and the deb822 (*.sources) formats.
apt_entries() {
	local f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" |
			awk -v s="$suite" '$1 == "deb" && index($3, s) == 1 { $1 = ""; print }'
	done
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk -v s="$suite" '
			function flush(  i, n, u, x) {
				if (types ~ /(^| )deb( |$)/ && uris != "") {
					n = split(suites, x, " ")
					split(uris, u, " ")
					for (i = 1; i <= n; i++)
						if (index(x[i], s) == 1)
							print u[1], x[i], comps
				}
				types = uris = suites = comps = ""
			}
			/^[ \t]*#/ { next }
			/^[ \t]*$/ { flush(); next }
			{ key = tolower($1); $1 = ""; sub(/^ +/, "") }
			key == "types:" { types = $0 }
			key == "uris:" { uris = $0 }
			key == "suites:" { suites = $0 }
			key == "components:" { comps = $0 }
			END { flush() }' "$f"
	done
}

entries=$(apt_entries | awk 'NF >= 2 { $1 = $1; if (!seen[$0]++) print }')
mirror=${IOTAD_DEBIAN_MIRROR:-$(awk -v s="$suite" '$2 == s { print $1; exit }' <<< "$entries")}
if [ -z "$mirror" ]; then
	echo "base-image: no '$suite' entry in apt's sources; set IOTAD_DEBIAN_MIRROR" >&2
	exit 1
fi
[ -n "$entries" ] || entries="$mirror $suite main"

root=$(mktemp -d "${TMPDIR:-/tmp}/iotad-rootfs.XXXXXX")
trap 'rm -rf "$root"' EXIT
echo "base-image: debootstrap $suite from $mirror" >&2
debootstrap --variant=minbase "$suite" "$root" "$mirror" >"$root.log" 2>&1 || {
	tail -n 20 "$root.log" >&2
	rm -f "$root.log"
	exit 1
}
rm -f "$root.log"

# The image's apt reads the same mirrors as this machine (suites and
# security), keeps no package cache, and the rootfs is trimmed of caches.
awk '{ print "deb " $0 }' <<< "$entries" > "$root/etc/apt/sources.list"
cat > "$root/etc/apt/apt.conf.d/docker-clean" <<'CONF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
Acquire::Languages "none";
CONF
echo 'APT::Install-Recommends "false";' > "$root/etc/apt/apt.conf.d/docker-no-recommends"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin \
	"$root"/var/lib/apt/lists/* "$root"/var/log/*.log "$root"/tmp/* 2>/dev/null || true

tar -C "$root" --numeric-owner -c . |
	docker import --change 'CMD ["bash"]' --change 'ENV LANG=C.UTF-8' - "$tag" >/dev/null
echo "base-image: $tag built ($(docker image inspect -f '{{.Size}}' "$tag" | awk '{ printf "%.0f MB", $1 / 1e6 }'))" >&2
