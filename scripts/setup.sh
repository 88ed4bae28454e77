#!/usr/bin/env bash
# Installs what ovl and its sandbox need on a Debian machine, only what is missing:
# Debian packages (openssh, etcd, redis, memcached, zookeeper, prometheus), npm dependencies, the compiled CLI.
set -euo pipefail
cd "$(dirname "$0")/.."

# command -> Debian package
declare -A PKG=(
  [sshd]=openssh-server [ssh]=openssh-client [etcd]=etcd-server [etcdctl]=etcd-client
  [redis-server]=redis-server [redis-cli]=redis-tools [memcached]=memcached
  # The monitoring components (the sandbox's hosts share this machine's packages); promtool tests
  # the alert rules ovl ships.
  [promtool]=prometheus [prometheus-redis-exporter]=prometheus-redis-exporter
  [prometheus-node-exporter]=prometheus-node-exporter [prometheus-alertmanager]=prometheus-alertmanager
)
# Debian packages with no command of their own on the PATH, checked with dpkg: zookeeper (the
# zookeeper component runs its jar from /usr/share/java; it brings a JRE).
DPKG_ONLY=(zookeeper)
# A prebuilt Mesos beside the checkout (../shared/mesos/) or named by OVL_MESOS_HOME or
# OVL_MESOS_TARBALL: the e2e tests run real Mesos daemons from it, which need these libraries.
if [ -n "${OVL_MESOS_HOME:-}${OVL_MESOS_TARBALL:-}" ] || compgen -G '../shared/mesos/mesos-*.tar.zst' >/dev/null; then
  DPKG_ONLY+=(zstd libapr1 libarchive13 libcurl4 libgrpc++1.51 libgrpc29 libprotobuf32 libsasl2-2 libsvn1 libzookeeper-mt2)
fi
missing=()
for cmd in "${!PKG[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || missing+=("${PKG[$cmd]}")
done
for extra in "${DPKG_ONLY[@]}" ${OVL_EXTRA_PACKAGES:-}; do
  dpkg-query -W -f='${Status}' "$extra" 2>/dev/null | grep -q 'install ok installed' || missing+=("$extra")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then echo "setup: missing Debian packages: ${missing[*]}; run as root or apt-get install them" >&2; exit 1; fi
  echo "setup: installing ${missing[*]}"
  # Packages must not start their daemons on this machine: ovl starts its own, on sandbox hosts.
  policy_added=
  if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; policy_added=1; fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  [ -n "$policy_added" ] && rm -f /usr/sbin/policy-rc.d
fi
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npx tsc -p .
echo "setup: ready"
