#!/usr/bin/env bash
# Benchmark timing shim, installed by `npm run bench` as the worker's ffmpeg and ffprobe (copies
# named after the tool). It runs the real binary and appends one line per run to $BENCH_RUN_LOG:
#   tool TAB start TAB end TAB exit code TAB input (-i, symlinks resolved) TAB arguments joined by \x1f
# so the bench can tell time inside ffmpeg from the rest of a job, and which job a run was for.
# No fork inside the timed part (EPOCHREALTIME is a bash variable); TERM/INT are forwarded so a
# canceled activity still stops ffmpeg. Bench only.
set -u
tool=${0##*/}
if [ "$tool" = ffprobe ]; then real=$BENCH_REAL_FFPROBE; else real=$BENCH_REAL_FFMPEG; fi
start=$EPOCHREALTIME
"$real" "$@" &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null' TERM INT
while :; do
  wait "$pid"
  rc=$?
  # A trapped signal ends `wait` early; wait again until the child is really gone.
  kill -0 "$pid" 2>/dev/null || break
done
end=$EPOCHREALTIME
# The worker hands ffmpeg a link to the stored object; the object's own path names the job.
input= prev=
for arg in "$@"; do
  if [ "$prev" = -i ]; then input=$arg; break; fi
  prev=$arg
done
input=$(readlink -f -- "$input" 2>/dev/null || printf '%s' "$input")
IFS=$'\x1f'
printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$tool" "$start" "$end" "$rc" "$input" "$*" >>"$BENCH_RUN_LOG"
exit "$rc"
