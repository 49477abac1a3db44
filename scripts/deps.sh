#!/bin/sh
# deps.sh - install, only when missing, the Debian packages nslua needs.
#   scripts/deps.sh          build, run and test dependencies (DESIGN.md)
#   scripts/deps.sh --bench  also the bench peers and profilers
#   scripts/deps.sh --oci    also the OCI engines the nslua-oci tests drive
# Idempotent: a second run installs nothing and does not touch apt's lists.
set -eu

# DESIGN.md's list, plus two the tests need to observe from outside:
# iproute2 (`ip` lists links inside the tests' private network namespaces)
# and util-linux (setpriv for the rootless cases, unshare for private
# namespaces); neither is used by nslua itself.  nftables (the nft tool)
# lets the tests list the tables of their private namespaces; nslua itself
# uses libnftables (libnftables-dev, libnftables1 at run time).  cppcheck
# and lua-check (luacheck) are `make lint`'s.  bubblewrap is the reference
# the `nslua bwrap` tests compare against (spec/cli/bwrap_spec.lua runs each
# command line under both); nslua never runs it.  passt gives `net = "pasta"`
# (--net pasta) its /usr/bin/pasta, which nslua starts for rootless
# networking (spec/pasta_spec.lua); without it only that option is missing.
# scdoc turns the generated man page sources into roff (`make man`, which
# `make install` runs; spec/cli/doc_spec.lua renders them); nslua never
# runs it.  zsh and fish only run spec/cli/completion_spec.lua's checks of
# the completions for them (without them those cases are pending).
# lua-luv and lua-cqueues: the event loops examples/ and spec/evloop_spec.lua
# drive containers from (fileno/step, docs/api.md); nslua needs neither.
pkgs="lua5.4 liblua5.4-dev pkg-config libcap-dev libmnl-dev libseccomp-dev
libnftables-dev nftables lua-argparse lua-cjson lua-busted luarocks busybox-static python3 g++ uidmap
iproute2 util-linux cppcheck lua-check bubblewrap passt scdoc zsh fish lua-luv lua-cqueues"
bench="crun hyperfine strace linux-perf valgrind"
# --oci: spec/oci/ runs podman and containerd (ctr) against nslua-oci, and
# the bench's OCI scenario compares it with runc and crun.  podman needs
# conmon (its container monitor), fuse-overlayfs and slirp4netns (rootless
# storage and network) and catatonit (--init, the rootless pause process;
# rootless podman's newuidmap is uidmap, already above); runc and crun are
# the reference runtimes (Debian's containerd depends on runc).  No Go
# toolchain: the runtime-tools suite is built by hand (docs/oci.md), not
# by CI.
oci="podman containerd runc crun conmon fuse-overlayfs slirp4netns catatonit"

for a in "$@"; do
  case "$a" in
    --bench) pkgs="$pkgs $bench" ;;
    --oci) pkgs="$pkgs $oci" ;;
    *) echo "usage: $0 [--bench] [--oci]" >&2; exit 2 ;;
  esac
done

missing=""
for p in $pkgs; do
  st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$st" = "installed" ] || missing="$missing $p"
done
[ -n "$missing" ] || exit 0

if [ "$(id -u)" != 0 ]; then
  echo "deps.sh: missing packages:$missing (run as root to install)" >&2
  exit 1
fi
echo "deps.sh: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
