#!/usr/bin/env bash
# Cold start of the jdyld CLI, whole process, against two references:
#   cold --help:     bin/jdyld --help   vs  a JVM hello world (same JDK, java -XX:TieredStopAtLevel=1
#                    -XX:+UseSerialGC -cp DIR Hello)
#   cold run sqlite: bin/jdyld run main.o libsqlite3.a  vs  llvm-jitlink-14 main.o libsqlite3.a
#                    (main.c opens an in-memory database, runs "select 1" and closes it; gcc -O2 -c)
# Each pair runs alternately (A B A B ...) after one unmeasured warm-up each; printed are the
# medians, in seconds, and their ratio. RUNS (default 11, at least 10) sets the number of pairs.
# Needs: bin/jdyld built (it builds itself on first use, which the warm-up absorbs), gcc,
# llvm-jitlink-14 and /usr/lib/x86_64-linux-gnu/libsqlite3.a (libsqlite3-dev).
set -euo pipefail
root=$(cd "${BASH_SOURCE[0]%/*}/.." && pwd)
. "$root/bin/find-jdk"
jdyld_find_jdk || exit 1
java="$JDYLD_JAVA_HOME/bin/java"
runs=${RUNS:-11}
[ "$runs" -ge 10 ] || { echo "cold-start: RUNS must be at least 10" >&2; exit 2; }
sqlite=/usr/lib/x86_64-linux-gnu/libsqlite3.a
for tool in gcc llvm-jitlink-14; do
  command -v "$tool" >/dev/null || { echo "cold-start: $tool not found" >&2; exit 1; }
done
[ -f "$sqlite" ] || { echo "cold-start: $sqlite not found (libsqlite3-dev)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/Hello.java" <<'JAVA'
public class Hello { public static void main(String[] args) { System.out.println("hello"); } }
JAVA
"$JDYLD_JAVA_HOME/bin/javac" -d "$work" "$work/Hello.java"
cat > "$work/main.c" <<'C'
#include <sqlite3.h>
int main(void) { sqlite3 *db; sqlite3_open(":memory:", &db); sqlite3_exec(db, "select 1", 0, 0, 0); return sqlite3_close(db); }
C
gcc -O2 -c "$work/main.c" -o "$work/main.o"

# Wall time of one run of "$@" in nanoseconds (output discarded; a failure stops the script).
elapsed() {
  local start end
  start=$(date +%s%N)
  "$@" >/dev/null 2>&1 || { echo "cold-start: failed: $*" >&2; exit 1; }
  end=$(date +%s%N)
  echo $((end - start))
}

median() { # nanoseconds, one per line on stdin -> seconds
  sort -n | awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.3f", m / 1e9 }'
}

# compare LABEL NAME_A NAME_B -- command A -- command B
compare() {
  local label=$1 name_a=$2 name_b=$3 i a b
  shift 3
  local -a cmd_a=() cmd_b=()
  shift # --
  while [ "$1" != "--" ]; do cmd_a+=("$1"); shift; done
  shift
  cmd_b=("$@")
  elapsed "${cmd_a[@]}" >/dev/null
  elapsed "${cmd_b[@]}" >/dev/null
  : > "$work/a"; : > "$work/b"
  for ((i = 0; i < runs; i++)); do
    elapsed "${cmd_a[@]}" >> "$work/a"
    elapsed "${cmd_b[@]}" >> "$work/b"
  done
  a=$(median < "$work/a")
  b=$(median < "$work/b")
  echo "$label: $name_a $a s, $name_b $b s, ratio $(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", a / b }')"
}

compare "cold --help" jdyld "java hello" -- "$root/bin/jdyld" --help \
  -- "$java" -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -cp "$work" Hello
compare "cold run sqlite" jdyld llvm-jitlink -- "$root/bin/jdyld" run "$work/main.o" "$sqlite" \
  -- llvm-jitlink-14 "$work/main.o" "$sqlite"
