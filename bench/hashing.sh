#!/usr/bin/env bash
# Hashing throughput: dftk's pipeline versus dc3dd and hashdeep on the same input, in one run.
#
#   bench/hashing.sh [SIZE_MIB] [DFTK]
#
# Builds a random raw image of SIZE_MIB (default 512) and a folder of 2,000 files, then times:
#   media  : dc3dd hash=md5,sha1,sha256 | dftk run --plugin hashing (media hash + seal before/after)
#   files  : hashdeep -r -c md5,sha1,sha256 | dftk run --plugin hashing --workers 1 and 2
# and prints the ratios (peer time / dftk time; above 1 means dftk is faster). Not a test.
set -euo pipefail
size=${1:-512}
dftk=${2:-.venv/bin/dftk}
for tool in dc3dd hashdeep bc; do command -v $tool >/dev/null || { echo "needs $tool (apt-get install $tool)"; exit 1; }; done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

seconds() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc -l; }
ratio() { echo "scale=2; $1 / $2" | bc -l; }

head -c $((size << 20)) /dev/urandom > "$work/media.raw"
python3 - "$work/files" <<'PY'
import os, sys
root = sys.argv[1]
for i in range(2000):
    d = os.path.join(root, f"d{i % 40:02d}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i:05d}.bin"), "wb") as f:
        f.write(os.urandom(1024 * (1 + i % 97)))
PY
cat "$work/media.raw" > /dev/null  # warm the page cache so every tool reads from memory alike
files_mib=$(du -sm "$work/files" | cut -f1)

t_dc3dd=$(seconds dc3dd if="$work/media.raw" of=/dev/null hash=md5 hash=sha1 hash=sha256)
t_dftk_media=$(seconds "$dftk" run "$work/media.raw" --evidence-format raw --case "$work/c1" --plugin hashing --no-progress)
t_hashdeep=$(seconds hashdeep -r -c md5,sha1,sha256 "$work/files")
t_dftk_files1=$(seconds "$dftk" run "$work/files" --case "$work/c2" --plugin hashing --no-progress --workers 1)
t_dftk_files2=$(seconds "$dftk" run "$work/files" --case "$work/c3" --plugin hashing --no-progress --workers 2)

echo "machine: $(nproc) cores, $(uname -m), $(date -u +%Y-%m-%dT%H:%MZ)"
echo "media ${size} MiB, md5+sha1+sha256:"
printf '  dc3dd            %6.2f s\n' "$t_dc3dd"
printf '  dftk run         %6.2f s   ratio dc3dd/dftk %s (dftk also seals: +2 sha256 passes)\n' \
  "$t_dftk_media" "$(ratio "$t_dc3dd" "$t_dftk_media")"
echo "files 2000 (${files_mib} MiB), md5+sha1+sha256:"
printf '  hashdeep         %6.2f s\n' "$t_hashdeep"
printf '  dftk --workers 1 %6.2f s   ratio hashdeep/dftk %s\n' "$t_dftk_files1" "$(ratio "$t_hashdeep" "$t_dftk_files1")"
printf '  dftk --workers 2 %6.2f s   ratio hashdeep/dftk %s\n' "$t_dftk_files2" "$(ratio "$t_hashdeep" "$t_dftk_files2")"
