#!/usr/bin/env bash
# The Docker tests (tests/docker/test_compose.sh, then
# tests/docker/test_compose_fed.sh): installs docker.io, docker-compose and
# debootstrap when missing, then builds the images and runs the compose
# demo and the federated compose demo end to end. Needs root (dockerd, debootstrap).
# A skip counts as a failure here: this is the command CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh --docker
rc=0
tests/docker/test_compose.sh || rc=$?
if ((rc == 0)); then
	tests/docker/test_compose_fed.sh || rc=$?
fi
if ((rc == 77)); then
	echo "docker-test: the test was skipped; its dependencies are missing" >&2
	rc=1
fi
exit "$rc"
