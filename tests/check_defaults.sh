#!/usr/bin/env bash
# README.md and docs/*.md state no detector default other than the table's
# (src/format/params.c, as `iotad config --defaults` prints it): on a line
# that speaks of a default, a detector key written `key: value` must carry
# its default, and a boolean key said to be "on/off by default" must be so.
# config/iotad.yaml itself is held to the table by the config unit suite.
# usage: check_defaults.sh IOTAD SRCDIR
set -euo pipefail
exe=$1 src=$2
"$exe" config --defaults > /dev/null
"$exe" config --defaults | python3 -c '
import glob, os, re, sys
src = sys.argv[1]
defaults = dict(re.findall(r"^  ([a-z_]+): (\S+)$", sys.stdin.read(), re.M))
if len(defaults) < 10:
    sys.exit("iotad config --defaults printed %d keys: cannot check" % len(defaults))
files = [os.path.join(src, "README.md")] + sorted(glob.glob(os.path.join(src, "docs", "*.md")))
bad = checked = 0
for path in files:
    for n, line in enumerate(open(path, encoding="utf-8"), 1):
        if "default" not in line.lower():
            continue
        for key, val in re.findall(r"\b([a-z_]+): `?([A-Za-z0-9.+-]+)", line):
            if key in defaults:
                checked += 1
                if val != defaults[key]:
                    print("%s:%d: %s: %s, but the default is %s" % (path, n, key, val, defaults[key]))
                    bad += 1
        for key, state in re.findall(r"\b([a-z_]+)`?, (on|off) by default", line):
            if defaults.get(key) in ("true", "false"):
                checked += 1
                if (state == "on") != (defaults[key] == "true"):
                    print("%s:%d: %s is %s by default, not %s" % (path, n, key, defaults[key], state))
                    bad += 1
if bad:
    sys.exit("%d default(s) in the docs differ from the table" % bad)
print("%d default(s) stated in README.md and docs/ agree with the table" % checked)
' "$src"
