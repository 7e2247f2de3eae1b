#!/usr/bin/env bash
# File carving: `dftk carve` against PhotoRec, foremost and scalpel on the same image, in one run.
#
#   bench/carve.sh [SIZE_MIB] [DFTK]        (run from the repository root; defaults 320, .venv/bin/dftk)
#
# Builds a SIZE_MIB raw image (bench/carve_truth.py) from real files read in place from
# ../shared/testdata (exif-py JPEGs, py-pdf PDFs, oletools/plaso Office files, tinytag audio (whole files only:
# mp3val and `flac -t` must find no truncation), yara/plaso PE, ISO-BMFF media)
# plus generated ones (Pillow PNG/GIF/BMP/TIFF/WebP, sqlite3 databases, ZIP archives), each at a 512-byte
# boundary between filler of random bytes, zeros and text; 15% of the files over 64 KiB are split in two
# fragments with 16-256 KiB of filler between them. The ground truth (type, offsets, size, sha256,
# fragmented) is kept in the temporary folder as truth.json. Then, page cache warm, it times
#   dftk carve IMAGE OUT (its default worker count, one per core; set WORKERS=N to choose), and once more
#   with --workers 1 for the single-core figure (PhotoRec, foremost and scalpel have no parallel mode)
#   photorec /d OUT/recup_dir /cmd IMAGE partition_none,options,paranoid,search
#   foremost -i IMAGE -o OUT (default mode, /etc/foremost.conf)
#   scalpel -c CONF -o OUT IMAGE (CONF: /etc/scalpel/scalpel.conf with every type line uncommented)
# and prints per tool: recall (planted files some output equals byte for byte), precision (outputs that
# equal a planted file; dftk: top-level manifest lines only), fragmented files recovered, wall time, and
# dftk's time / PhotoRec's time (best of ROUNDS runs each), every run's time and the ratio round by round
# (median, range, rounds dftk won); then recall per type, dftk's misses and its outputs that are no planted
# file. Set KEEP=1 to keep the temporary folder. Not a test.
set -euo pipefail
size=${1:-320}
dftk=${2:-.venv/bin/dftk}
workers=${WORKERS:-}
py=.venv/bin/python
testdata=../shared/testdata
here=$(cd "$(dirname "$0")" && pwd)
for tool in photorec foremost scalpel bc mp3val flac; do
  command -v $tool >/dev/null || { echo "needs $tool (apt-get install testdisk foremost scalpel bc mp3val flac)"; exit 1; }
done
[ -d "$testdata" ] || { echo "needs $testdata (run from the repository root)"; exit 1; }
[ -x "$py" ] || py=python3
work=$(mktemp -d)
if [ "${KEEP:-0}" = 1 ]; then echo "work folder: $work"; else trap 'rm -rf "$work"' EXIT; fi

t0=$(date +%s.%N)
"$py" "$here/carve_truth.py" build "$work" "$size" "$testdata"
echo "built in $(echo "$(date +%s.%N) - $t0" | bc -l | xargs printf '%.1f') s"
image=$work/image.dd

# scalpel: the stock configuration with every type's header/footer line uncommented.
sed -E 's/^#([[:space:]]*[A-Za-z0-9]+[[:space:]]+[yYnN][[:space:]]+[0-9]+[[:space:]])/\1/' \
  /etc/scalpel/scalpel.conf | sed -E 's/^([[:space:]]*NONE[[:space:]])/#\1/' > "$work/scalpel.conf"
echo "scalpel types enabled: $(grep -Ev '^[[:space:]]*(#|$)' "$work/scalpel.conf" | awk '{print $1}' | sort -u | tr '\n' ' ')"

: > "$work/times"
run() {  # run NAME OUT CMD...: time CMD with a warm page cache into a fresh OUT, stdout/stderr to $work/NAME.log
  local name=$1 out=$2 s e rc=0; shift 2
  rm -rf "$out"; mkdir -p "$(dirname "$out")"
  sync  # the previous tool's output written back first, so no tool pays for another's writes
  cat "$image" > /dev/null
  s=$(date +%s.%N)
  "$@" > "$work/$name.log" 2>&1 || rc=$?
  e=$(date +%s.%N)
  echo "$name $(echo "$e - $s" | bc -l)" >> "$work/times"
  printf '  %-9s %7.1f s  exit status %s\n' "$name" "$(echo "$e - $s" | bc -l)" "$rc"
}
# Byte-compile dftk as an installed package is (pip writes .pyc files at install; this shell may forbid it):
# the timing is of carving, not of compiling Python sources on every start.
"$py" -m compileall -q "$here/../dftk" "$here/../plugins" > /dev/null
in_work() { (cd "$work" && mkdir -p out_photorec && "$@"); }  # photorec may leave photorec.se2/.log there
# dftk and PhotoRec run ROUNDS times in turn (default 5) and the best time counts: a single run on this VM
# varies by about 0.3 s with the file system's state (the image just written, earlier outputs freed: on an
# ext4 without a journal, creating a file skips every inode deleted in the last minutes, and each of the
# ~450 output files then costs about 1 ms of kernel time, for every tool alike).
echo "carving (page cache warm), dftk and photorec best of ${ROUNDS:-5}:"
for round in $(seq "${ROUNDS:-5}"); do
  run dftk "$work/out_dftk" "$dftk" carve "$image" "$work/out_dftk" ${workers:+--workers "$workers"}
  run dftk_1w "$work/out_dftk_1w" "$dftk" carve "$image" "$work/out_dftk_1w" --workers 1
  run photorec "$work/out_photorec" in_work photorec /d "$work/out_photorec/recup_dir" /cmd "$image" \
    partition_none,options,paranoid,search
done
cmp -s "$work/out_dftk/manifest.jsonl" "$work/out_dftk_1w/manifest.jsonl" \
  || echo "  WARNING: dftk's manifest differs between worker counts"
run foremost "$work/out_foremost" foremost -i "$image" -o "$work/out_foremost"
run scalpel "$work/out_scalpel" scalpel -c "$work/scalpel.conf" -o "$work/out_scalpel" "$image"
grep -h 'problem' "$work/dftk.log" | head -5 || true

"$py" "$here/carve_truth.py" score "$work" "$work/times"
