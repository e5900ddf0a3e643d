/** `npm run bench`: not built yet. The benchmark suite (ratios against plain ffmpeg) is its own issue. */
console.log('npm run bench: not yet — the benchmark suite (job time as a ratio of plain ffmpeg in the same run) is tracked as its own issue.');
