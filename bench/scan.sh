#!/usr/bin/env bash
# YARA scanning: `dftk scan --rules R` against `yara -r R` over the same folder of files, in one run.
#
#   bench/scan.sh [SIZE_MIB] [DFTK]
#
# Builds SIZE_MIB (default 400) of files (512 KiB each: random bytes with planted words) and a rule file
# with 10 strings (text, nocase, wide, fullword, hex and a regex), warms the page cache, then times
#   yara -r R files | dftk scan files --rules R (screening, nothing recorded) | dftk scan ... --case (recorded)
# and prints the ratios (dftk time / yara time; the target is at most 1.2). Not a test.
set -euo pipefail
size=${1:-400}
dftk=${2:-.venv/bin/dftk}
for tool in yara bc; do command -v $tool >/dev/null || { echo "needs $tool (apt-get install $tool)"; exit 1; }; done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

seconds() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s.%N); echo "$e - $s" | bc -l; }
ratio() { echo "scale=2; $1 / $2" | bc -l; }

python3 - "$work/files" "$size" <<'PY'
import os, random, sys
root, size = sys.argv[1], int(sys.argv[2])
random.seed(1)
words = [b"invoice", b"password", b"confidential", b"http://example.com/a", b"bitcoin", b"MZ\x90\x00",
         b"hello world", b"secret", "p\0a\0s\0s\0w\0o\0r\0d\0".encode()]
for i in range(size * 2):
    d = os.path.join(root, f"d{i % 20:02d}")
    os.makedirs(d, exist_ok=True)
    data = bytearray(os.urandom(512 * 1024))
    for _ in range(20):
        w = random.choice(words)
        p = random.randrange(0, len(data) - 64)
        data[p:p + len(w)] = w
    with open(os.path.join(d, f"f{i:05d}.bin"), "wb") as f:
        f.write(data)
PY
cat > "$work/rules.yar" <<'YAR'
rule bench_text {
  strings:
    $a = "invoice" nocase
    $b = "password" ascii wide
    $c = "confidential"
    $d = "hello world"
    $e = "secret" fullword
  condition: 2 of them
}
rule bench_bin {
  strings:
    $mz = { 4D 5A 90 00 }
    $h = { 62 69 74 63 6F 69 6E }
    $r = /https?:\/\/[a-z0-9.]{3,40}\/[a-z]/
    $x = "example.com"
    $y = "never-present-string-xyz"
  condition: any of them
}
YAR
cat "$work"/files/*/* > /dev/null  # warm the page cache so every tool reads from memory alike
mib=$(du -sm "$work/files" | cut -f1)
n_yara=$(yara -r "$work/rules.yar" "$work/files" | wc -l)
n_dftk=$("$dftk" scan "$work/files" --rules "$work/rules.yar" 2>/dev/null | wc -l)

t_yara=$(seconds yara -r "$work/rules.yar" "$work/files")
t_dftk=$(seconds "$dftk" scan "$work/files" --rules "$work/rules.yar")
t_case=$(seconds "$dftk" scan "$work/files" --rules "$work/rules.yar" --case "$work/case")

echo "machine: $(nproc) cores, $(uname -m), $(date -u +%Y-%m-%dT%H:%MZ)"
echo "files $((size * 2)) x 512 KiB (${mib} MiB), 2 rules, 10 strings; matches: yara $n_yara, dftk $n_dftk"
printf '  yara -r                     %6.2f s\n' "$t_yara"
printf '  dftk scan                   %6.2f s   ratio dftk/yara %s (target <= 1.2)\n' "$t_dftk" "$(ratio "$t_dftk" "$t_yara")"
printf '  dftk scan --case            %6.2f s   ratio dftk/yara %s (also seals before and after, stores findings)\n' \
  "$t_case" "$(ratio "$t_case" "$t_yara")"
