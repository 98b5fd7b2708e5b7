#!/usr/bin/env bash
# Screenshots of LabelGuard in real desktop QGIS under Xvfb, from `make demo`'s output (out/demo):
# docs/screenshot.png (dock), docs/findings.png (findings panel), docs/diff.png (styled diff).
set -euo pipefail
cd "$(dirname "$0")/.."
test -f out/demo/manifests/v2.json || { echo "run make demo first" >&2; exit 1; }
work=$(mktemp -d /tmp/labelguard-shot.XXXXXX)
mkdir -p "$work/plugins" "$work/profiles/profiles/default/QGIS"
ln -s "$PWD" "$work/plugins/labelguard"
cat > "$work/profiles/profiles/default/QGIS/QGIS3.ini" <<INI
[PythonPlugins]
labelguard=true
[qgis]
showTips=false
checkVersion=false
INI
site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
QGIS_PLUGINPATH="$work/plugins" PYTHONPATH="$site" PROJ_DATA=/usr/share/proj \
LABELGUARD_CHECKOUT="$PWD" LABELGUARD_SHOT_DIR="$work" \
  timeout 300 xvfb-run -a -s "-screen 0 1600x1000x24" \
  qgis --profiles-path "$work/profiles" --nologo --noversioncheck --code tools/screenshot_qgis.py
rm -rf "$work"
