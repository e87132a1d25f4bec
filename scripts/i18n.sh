#!/usr/bin/env bash
# The console's translations: extract every marked text, merge it into the zh_CN catalog, compile the catalog.
# Babel names Simplified Chinese zh_Hans_CN, and gettext looks for that directory name.
# After running it, translate the new empty msgstr entries in the .po file and run it again (the .mo is committed,
# so installing needs no build step). tests/test_console_i18n.py fails on anything left untranslated.
set -euo pipefail
cd "$(dirname "$0")/.."
PYBABEL=.venv/bin/pybabel
DIR=backend/console/translations
POT="$(mktemp --suffix=.pot)"
trap 'rm -f "$POT"' EXIT
"$PYBABEL" extract -F babel.cfg -k lazy_gettext -k _l --no-location --sort-output \
  --project=onsite --copyright-holder="Onsite contributors" -o "$POT" backend/console
if [ -f "$DIR/zh_Hans_CN/LC_MESSAGES/messages.po" ]; then
  "$PYBABEL" update -i "$POT" -d "$DIR" -l zh_Hans_CN --no-fuzzy-matching --ignore-obsolete
else
  "$PYBABEL" init -i "$POT" -d "$DIR" -l zh_Hans_CN
fi
"$PYBABEL" compile -d "$DIR" -l zh_Hans_CN --statistics
