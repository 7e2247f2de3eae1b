#!/usr/bin/env bash
# Acquisition and hashing speed: dftk against dc3dd and ewfacquire on the same source, in one run,
# alternating the tools. Usage: bench/acquire.sh [MiB (default 400)] [rounds (default 2)]
# Prints each wall time (best of the rounds) and the ratio dftk/peer (lower is better for dftk).
set -euo pipefail
MIB=${1:-400}
ROUNDS=${2:-2}
HERE=$(cd "$(dirname "$0")/.." && pwd)
DFTK=${DFTK:-$HERE/.venv/bin/dftk}
for tool in dc3dd ewfacquire ewfverify; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is not installed (apt-get install dc3dd ewf-tools)"; exit 1; }
done
WORK=$(mktemp -d "${TMPDIR:-/tmp}/dftk-bench-acquire.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
SRC=$WORK/source.raw

# A disk-like mix: a quarter zeros, a quarter repetitive text, half random (incompressible).
python3 - "$SRC" "$MIB" <<'PY'
import os, sys
path, mib = sys.argv[1], int(sys.argv[2])
text = b"".join(b"log line %08d: user=alice action=read status=ok\n" % i for i in range(20000))
with open(path, "wb") as f:
    for i in range(mib):
        kind = i % 4
        f.write(bytes(1 << 20) if kind == 0 else text[: 1 << 20].ljust(1 << 20, b"x") if kind == 1
                else os.urandom(1 << 20))
PY
cat "$SRC" >/dev/null  # warm the page cache for every contender alike

now() { date +%s.%N; }
time_it() {  # time_it NAME command... ; keeps the best wall time per NAME
  local name=$1; shift
  rm -rf "$WORK/out"; mkdir "$WORK/out"; sync
  local t0 t1; t0=$(now); "$@" >"$WORK/last.log" 2>&1 || { echo "bench: $name failed:"; cat "$WORK/last.log"; exit 1; }
  t1=$(now)
  local dt; dt=$(echo "$t1 - $t0" | bc)
  local prev=${BEST[$name]:-}
  if [[ -z $prev ]] || (( $(echo "$dt < $prev" | bc) )); then BEST[$name]=$dt; fi
}
declare -A BEST

for ((r = 1; r <= ROUNDS; r++)); do
  time_it dftk_hash  "$DFTK" hash -a md5,sha1,sha256 "$SRC"
  time_it dc3dd_hash dc3dd if="$SRC" of=/dev/null hash=md5 hash=sha1 hash=sha256
  time_it dftk_raw   "$DFTK" acquire "$SRC" "$WORK/out/img.raw" -a md5,sha256
  time_it dc3dd_raw  dc3dd if="$SRC" of="$WORK/out/img.raw" hash=md5 hash=sha256
  time_it dftk_e01   "$DFTK" acquire "$SRC" "$WORK/out/img" --format e01 --compression fast
  cp "$WORK/out/img.E01" "$WORK/dftk.E01"
  time_it ewf_e01    ewfacquire -u -q -t "$WORK/out/img" -f encase6 -c deflate:fast -d sha1 "$SRC"
done
if ewfverify -q "$WORK/dftk.E01" >"$WORK/verify.log" 2>&1; then verdict="passes ewfverify"; else
  verdict="FAILS ewfverify"; fi

ratio() { echo "scale=2; $1 / $2" | bc | sed 's/^\./0./'; }
printf 'source %d MiB (1/4 zeros, 1/4 text, 1/2 random), best of %d rounds, %s cores\n' "$MIB" "$ROUNDS" "$(nproc)"
printf '  %-44s %6.2f s   vs dc3dd      %6.2f s   ratio %s (target <= 0.35)\n' "hash md5,sha1,sha256" \
  "${BEST[dftk_hash]}" "${BEST[dc3dd_hash]}" "$(ratio "${BEST[dftk_hash]}" "${BEST[dc3dd_hash]}")"
printf '  %-44s %6.2f s   vs dc3dd      %6.2f s   ratio %s (target <= 0.5)\n' "acquire raw md5,sha256" \
  "${BEST[dftk_raw]}" "${BEST[dc3dd_raw]}" "$(ratio "${BEST[dftk_raw]}" "${BEST[dc3dd_raw]}")"
printf '  %-44s %6.2f s   vs ewfacquire %6.2f s   ratio %s (target <= 0.5); dftk E01 %s\n' \
  "acquire e01 fast (md5+sha1 stored)" "${BEST[dftk_e01]}" "${BEST[ewf_e01]}" \
  "$(ratio "${BEST[dftk_e01]}" "${BEST[ewf_e01]}")" "$verdict"
