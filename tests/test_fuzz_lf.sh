#!/usr/bin/env bash
# test_fuzz_lf.sh SRCDIR [SECONDS] — libFuzzer over the sweep-file and option
# parsers (issue 9), where Debian's clang has libFuzzer (clang and
# libclang-rt-14-dev); without them it exits 77, which meson counts as
# skipped (tests/test_fuzz.c fuzzes the same properties without clang).
#
# Builds tests/test_fuzz_lf.c with the parser sources under
# -fsanitize=fuzzer,address,undefined twice (sweep files, arguments) and runs
# each for SECONDS (default 10) from the seed corpus tests/fuzz-corpus/{sweep,args};
# new inputs go to a scratch corpus, never into tests/.  A crash, a sanitizer
# report, a failed property or an input running over 30 s (a hang) fails the
# test; the scratch directory with the saved input is then kept and named.
set -u
src=$1
secs=${2:-10}
if ! command -v clang >/dev/null; then
  echo "clang is not installed: libFuzzer run skipped"; exit 77
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/rnnsweep-libfuzzer.XXXXXX")
printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }\n' > "$work/probe.c"
if ! clang -fsanitize=fuzzer "$work/probe.c" -o "$work/probe" 2>/dev/null; then
  rm -rf "$work"; echo "clang has no libFuzzer runtime (libclang-rt-*-dev): skipped"; exit 77
fi
cflags=(-g -O1 -std=c17 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined
        -fno-sanitize-recover=undefined -I"$src/include" -I"$src/src" -I"$src/tests")
sources=("$src/tests/test_fuzz_lf.c" "$src/src/sweep.c" "$src/src/sweep_values.c" "$src/src/sweeptext.c" "$src/src/config.c"
         "$src/src/task.c" "$src/src/cli.c")
libs=($(pkg-config --libs inih) -lgsl -lopenblas -lm)
export TMPDIR=$work ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1
failed=0
for target in sweep args; do
  def=(); [ "$target" = sweep ] && def=(-DFUZZ_SWEEP)
  if ! clang "${cflags[@]}" "${def[@]}" "${sources[@]}" "${libs[@]}" -o "$work/fuzz-$target"; then
    echo "FAIL cannot build the libFuzzer target $target"; failed=1; continue
  fi
  mkdir -p "$work/corpus-$target"
  "$work/fuzz-$target" -seed=1 -max_total_time="$secs" -timeout=30 -rss_limit_mb=4096 -max_len=4096 \
      -artifact_prefix="$work/$target-" -print_final_stats=1 \
      "$work/corpus-$target" "$src/tests/fuzz-corpus/$target" > "$work/$target.log" 2>&1
  rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$target.log")
  if [ $rc -eq 0 ]; then
    echo "ok   libFuzzer $target: ${runs:-?} inputs in $secs s, no crash, hang or property failure"
  else
    echo "FAIL libFuzzer $target (exit $rc); log and input kept in $work:"
    grep -E "ERROR|property failed|SUMMARY|Test unit written" "$work/$target.log" | head -20
    failed=1
  fi
done
if [ $failed -eq 0 ]; then rm -rf "$work"; echo "libfuzzer: 2 passed, 0 failed"; else echo "libfuzzer: failed"; fi
exit $failed
