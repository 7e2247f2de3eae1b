#!/usr/bin/env bash
# Metadata extraction: `dftk meta --json` versus `exiftool -j -n -G -r` on the same folder, in one run.
#
#   bench/meta.sh [FOLDER] [DFTK]
#
# FOLDER defaults to ../shared/testdata (exif-py, tinytag, py-pdf-sample-files, oletools and the rest: 700+
# mixed files). Prints both wall times and the ratio dftk / exiftool (below 1 means dftk is faster). Not a test.
set -euo pipefail
folder=${1:-../shared/testdata}
dftk=${2:-.venv/bin/dftk}
command -v exiftool >/dev/null || { echo "needs exiftool (apt-get install libimage-exiftool-perl)"; exit 1; }
command -v bc >/dev/null || { echo "needs bc"; exit 1; }

seconds() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s.%N); echo "$e - $s" | bc -l; }

files=$(find "$folder" -type f | wc -l)
find "$folder" -type f -exec cat {} + > /dev/null  # warm the page cache so both tools read from memory alike
peer=$(seconds exiftool -j -n -G -r -q -q "$folder")
ours=$(seconds "$dftk" meta --json "$folder")
printf 'files: %d in %s\n' "$files" "$folder"
printf 'exiftool -j -n -G -r : %6.2f s\n' "$peer"
printf 'dftk meta --json     : %6.2f s\n' "$ours"
printf 'ratio dftk/exiftool  : %6.2f (target <= 0.50)\n' "$(echo "$ours / $peer" | bc -l)"
