#!/usr/bin/env bash
# Debian packages for the single-node SLURM cluster that tests/slurm starts (controller, node daemon, accounting
# daemon with a MariaDB server, munge). Idempotent: a machine that has them installs nothing. Root only.
# Nothing is started here: tests/slurm/conftest.py starts (and stops) its own daemons in a temp dir.
set -euo pipefail
PKGS=(slurmctld slurmd slurm-client slurmdbd munge mariadb-server)
missing=()
for pkg in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "SLURM test cluster packages already installed"
  exit 0
fi
echo "installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "installed: $(dpkg-query -W -f="\${Package} \${Version}  " slurmctld slurmdbd munge mariadb-server)"
