#!/usr/bin/env bash
# Debian packages lmready's lab and tests need: the Samba AD DC that runs on loopback
# (lmready.lab.samba), the Kerberos headers the gssapi package builds against, and Chromium,
# in which a test opens the HTML report to prove no injected script runs.
# Idempotent: installs only what is missing. The distribution's samba services are never left
# running: the lab starts its own samba with a private smb.conf bound to 127.0.0.1.
set -euo pipefail

PACKAGES=(samba samba-ad-provision samba-dsdb-modules samba-vfs-modules ldb-tools libkrb5-dev krb5-user chromium)
SERVICES=(samba-ad-dc smbd nmbd winbind)

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive

missing=()
for pkg in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done

if [ ${#missing[@]} -gt 0 ]; then
    # policy-rc.d exit 101 ("action forbidden") keeps invoke-rc.d from starting the services
    # during the install; Docker images usually ship one already.
    policy=/usr/sbin/policy-rc.d
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
        $sudo chmod 755 "$policy"
        trap '$sudo rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    # apt-get update only when the package lists have no candidate yet (fresh image).
    if apt-cache policy "${missing[@]}" 2>/dev/null | grep -q "Candidate: (none)" ||
        ! apt-cache show "${missing[@]}" >/dev/null 2>&1; then
        $sudo apt-get update -qq
    fi
    $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    echo "install-system-packages: installed ${missing[*]}"
else
    echo "install-system-packages: ${PACKAGES[*]} already installed"
fi

# Stop and disable the packaged services, whichever init system there is.
for svc in "${SERVICES[@]}"; do
    if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
        $sudo systemctl disable --now "$svc" >/dev/null 2>&1 || true
    elif [ -x "/etc/init.d/$svc" ]; then
        $sudo "/etc/init.d/$svc" stop >/dev/null 2>&1 || true
    fi
done

# Nothing from samba may listen beyond loopback (an AD DC's listeners are named ldap[task] etc.).
exposed=$($sudo ss -H -ltnup 2>/dev/null |
    grep -E '"(samba|smbd|nmbd|winbindd|[a-z_]+\[task\])"' |
    awk '{print $5}' | grep -v -E '^(127\.[0-9.]+|\[::1\]|\[::ffff:127\.[0-9.]+\]):' || true)
if [ -n "$exposed" ]; then
    echo "install-system-packages: samba listens on non-loopback addresses: $exposed; stop it" >&2
    exit 1
fi
