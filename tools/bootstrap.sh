#!/usr/bin/env bash
# Installs what LabelGuard's demo and tests need on Debian 12, idempotently:
# QGIS 3.22 from Debian's packages (no recommends), GDAL tools, Xvfb, and a venv made with
# --system-site-packages (so it sees python3-qgis, GDAL, pyproj, numpy from Debian) holding
# shapely 2, pytest and pytest-qgis from PyPI. Works the same on Debian 13 and sid (QGIS 3.40,
# 3.44), where tools/matrix.sh runs it inside chroots.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
APT_PACKAGES="qgis qgis-providers python3-qgis python3-gdal python3-pyproj python3-yaml \
python3-numpy python3-jsonschema python3-venv python3-pip python3-setuptools gdal-bin xvfb xauth"

missing=""
for p in $APT_PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "bootstrap: installing Debian packages:$missing"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "bootstrap: creating $VENV (system site packages: QGIS, GDAL, pyproj)"
  /usr/bin/python3 -m venv --system-site-packages "$VENV"
fi
# numpy stays the system's: its GDAL bindings are built against that numpy (1.x on Debian 12,
# 2.x on Debian 13), so nothing pip installs may replace it.
numpy_pin="numpy==$(/usr/bin/python3 -c 'import numpy; print(numpy.__version__)')"
stamp="$VENV/.requirements.sha256"
want=$( (cat requirements-dev.txt; echo "$numpy_pin") | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "bootstrap: installing requirements-dev.txt into $VENV ($numpy_pin, the system's)"
  constraints=$(mktemp)
  trap 'rm -f "$constraints"' EXIT
  echo "$numpy_pin" > "$constraints"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -c "$constraints" \
    -r requirements-dev.txt
  echo "$want" > "$stamp"
fi
