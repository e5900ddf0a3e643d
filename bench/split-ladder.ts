/**
 * The "decode once" baseline: folds the service's per-rung ffmpeg commands into one command that
 * decodes the input once and feeds every rung through a `split` filter. Each rung keeps its own
 * filters, encoder, audio and muxer options exactly as the service's builder wrote them. Pure.
 */

/**
 * @example splitLadderArgs(tasks.map((t, i) => transcodeArgs(t, input, `/tmp/${i}.mp4`, limits)))
 */
export function splitLadderArgs(rungs: readonly (readonly string[])[]): string[] {
  if (rungs.length === 0) throw new Error('no rungs to combine');
  const first = rungs[0]!;
  const inputAt = first.indexOf('-i');
  if (inputAt < 0) throw new Error('the rung command has no -i');
  // Everything up to and including the input: global options, the demuxer allow-list, the input.
  const head = first.slice(0, inputAt + 2);
  if (head.includes('-ss')) throw new Error('clipped rungs (-ss) cannot share one decode');
  const graph: string[] = [`[0:v:0]split=${rungs.length}${rungs.map((_, i) => `[s${i}]`).join('')}`];
  const outputs: string[] = [];
  rungs.forEach((argv, i) => {
    if (argv.slice(0, inputAt + 2).join('\0') !== head.join('\0')) {
      throw new Error(`rung ${i} reads another input or has other global options`);
    }
    const tail = [...argv.slice(inputAt + 2)];
    if (tail.includes('-t')) throw new Error('clipped rungs (-t) cannot share one decode');
    const vf = tail.indexOf('-vf');
    const map = tail.indexOf('0:v:0');
    if (vf < 0 || map < 1 || tail[map - 1] !== '-map') throw new Error(`rung ${i} has no "-map 0:v:0 … -vf" video section`);
    graph.push(`[s${i}]${tail[vf + 1]}[v${i}]`);
    // Relabel before removing -vf, so the index of the map stays right whichever comes first.
    tail[map] = `[v${i}]`;
    tail.splice(vf, 2);
    outputs.push(...tail);
  });
  return [...head, '-filter_complex', graph.join(';'), ...outputs];
}
