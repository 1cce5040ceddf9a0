#!/usr/bin/env bash
# `make install`: thurac as a system service (docs/service.md). As root, from a checkout:
#   /opt/thurac               a venv with thurac and its runtime dependencies (not editable)
#   /usr/local/bin/thurac     a link to /opt/thurac/bin/thurac
#   /etc/thurac/thurac.yaml   config/thurac.yaml, only if there is none (root:thurac 0640)
#   user and group thurac     a system account (no login shell, home /var/lib/thurac), also
#                             in group postfix so that it can hand Postfix a unix socket
#   /var/lib/thurac           the store and spool (thurac:thurac 0750)
#   /var/spool/postfix/thurac the unix socket's folder in Postfix's chroot (thurac:postfix 0750)
#   /etc/systemd/system/thurac.service   dist/thurac.service (replaced: change it with
#                             `systemctl edit thurac`); enabled and started only with ENABLE=1
# Running it again updates thurac and keeps the configuration.
#
# Environment:
#   ENABLE=1         systemctl enable --now thurac (when systemd runs)
#   INSTALL_PYTHON   the Python the venv is made from (default /usr/bin/python3: the service
#                    user must be able to run it, and ProtectHome=yes hides /root and /home)
#   PIP_OPTIONS      extra pip options, e.g. "--no-index --find-links /srv/wheels" offline
#   INSTALL_ROOT     install under this folder instead of /, for a trial or a test: no user,
#                    no chown, no systemctl, and no root needed; the venv there works in place
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
root=${INSTALL_ROOT:-}
python=${INSTALL_PYTHON:-/usr/bin/python3}
enable=${ENABLE:-0}
user=thurac
prefix=/opt/thurac
say() { echo "install: $*"; }

if [ -n "$root" ]; then
  root=$(mkdir -p "$root" && cd "$root" && pwd)
elif [ "$(id -u)" -ne 0 ]; then
  echo "install: run it as root (sudo make install), or set INSTALL_ROOT to try it" >&2
  exit 1
fi
case "$(readlink -f "$python")" in
  /root/*|/home/*)
    say "warning: $python lives under /root or /home, which the service cannot read" \
        "(ProtectHome=yes); set INSTALL_PYTHON=/usr/bin/python3" ;;
esac

# Build dependencies of pymilter for that Python (libmilter-dev, gcc, its headers, venv).
PYTHON=$python "$src/tools/install-deps.sh" run

# The venv, built from a copy of the sources: the checkout gets no build/ or egg-info.
venv=$root$prefix
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT
cp -r "$src/pyproject.toml" "$src/README.md" "$src/src" "$build/"
# shellcheck disable=SC2086  # PIP_OPTIONS is a list of options
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade \
  ${PIP_OPTIONS:-} "$build"
say "thurac $("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("thurac"))') in $venv"

mkdir -p "$root/usr/local/bin"
# Under INSTALL_ROOT the link points into that root, where the venv is.
ln -sfn "$venv/bin/thurac" "$root/usr/local/bin/thurac"

if [ -z "$root" ]; then
  if ! getent passwd "$user" >/dev/null; then
    adduser --system --group --home /var/lib/thurac --no-create-home \
      --shell /usr/sbin/nologin --quiet "$user"
    say "made system user $user"
  fi
  if getent group postfix >/dev/null; then
    usermod -a -G postfix "$user"
  else
    say "warning: no group postfix (is Postfix installed?): the unit's" \
        "SupplementaryGroups=postfix will fail; install Postfix, or empty it with" \
        "systemctl edit thurac"
  fi
  owner=(-o root -g "$user")
  state=(-o "$user" -g "$user")
  spool=(-o "$user" -g postfix)
else
  owner=() state=() spool=()
fi

install -d -m 0755 "$root/etc/thurac"
config=$root/etc/thurac/thurac.yaml
if [ -e "$config" ]; then
  say "kept $config (the shipped one is config/thurac.yaml)"
else
  install -m 0640 "${owner[@]}" "$src/config/thurac.yaml" "$config"
  say "installed $config"
fi
"$venv/bin/thurac" config check "$config" >/dev/null ||
  say "warning: $config does not validate with this thurac: fix it before starting"

install -d -m 0750 "${state[@]}" "$root/var/lib/thurac"
if [ -d "$root/var/spool/postfix" ] && { [ -n "$root" ] || getent group postfix >/dev/null; }; then
  install -d -m 0750 "${spool[@]}" "$root/var/spool/postfix/thurac"
fi
install -D -m 0644 "$src/dist/thurac.service" "$root/etc/systemd/system/thurac.service"
say "installed $root/etc/systemd/system/thurac.service"

if [ -n "$root" ]; then
  exit 0
fi
if [ ! -d /run/systemd/system ]; then
  say "systemd is not running here: start thurac with" \
      "$prefix/bin/thurac run --config /etc/thurac/thurac.yaml (milter.user: thurac to drop root)"
  exit 0
fi
systemctl daemon-reload
if [ "$enable" = 1 ]; then
  systemctl enable --now thurac
  say "thurac enabled and started: systemctl status thurac"
elif systemctl is-active --quiet thurac; then
  say "thurac is running the previous version: systemctl restart thurac"
else
  say "not enabled; to start it now and at boot: systemctl enable --now thurac"
fi
