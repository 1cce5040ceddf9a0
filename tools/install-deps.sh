#!/usr/bin/env bash
# Installs the Debian packages thurac needs, only those missing.
# Usage: install-deps.sh run|test|bench|peers
# "run" checks the Python in $PYTHON (default python3) for what building pymilter needs.
# "test" adds Postfix, PostgreSQL and pgbouncer (installed without starting the system's own
# services: the tests run private instances with their own config, queue and data directories),
# miltertest, which plays Sendmail in the tests, dovecot-core, whose authentication service
# a private instance runs for SMTP AUTH in the tests (tests/support/sasl.py), and systemd for
# systemd-analyze, which checks the unit (a container may run without systemd), and chromium
# with a font, which renders the HTML report headless (tests/support/chromium.py).
# "bench" is "test" (Postfix brings smtp-source, which drives make bench); "peers" adds
# rspamd and redis-server, the peer make bench-peers measures (private instances only: their
# system services are not started).
set -euo pipefail
what=${1:-run}
python=${PYTHON:-python3}

need=()
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for pkg in libmilter-dev gcc make; do have "$pkg" || need+=("$pkg"); done
# A Python that can build pymilter: headers and venv. pyenv/other Pythons bring their own.
if ! "$python" -c 'import sysconfig,os,sys; sys.exit(not os.path.exists(sysconfig.get_paths()["include"]+"/Python.h"))'; then
  need+=(python3-dev)
fi
"$python" -c 'import ensurepip' 2>/dev/null || need+=(python3-venv)
case "$what" in
  test|bench|peers)
    for pkg in postfix postgresql pgbouncer miltertest systemd dovecot-core chromium \
        fonts-dejavu-core; do
      have "$pkg" || need+=("$pkg")
    done ;;
esac
if [ "$what" = peers ]; then
  for pkg in rspamd redis-server; do have "$pkg" || need+=("$pkg"); done
fi
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: need root to install: ${need[*]} (run: sudo apt-get install ${need[*]})" >&2
  exit 1
fi
echo "install-deps: apt-get install ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
# Keep apt from starting (or restarting) the system's own Postfix and PostgreSQL services.
guard=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
  guard=/usr/sbin/policy-rc.d
fi
trap '[ -n "$guard" ] && rm -f "$guard"' EXIT
apt-get update -qq
apt-get install -y -q --no-install-recommends "${need[@]}"
