/**
 * Watermark assets: a user's image or a text, turned once per job into an RGBA PNG at the widest
 * size any output needs. The transcodes overlay it in their own encode pass (see transcode.ts).
 */
import { commonArgs, IMAGE_DEMUXERS, inputArgs } from './input';

const PNG_OUT = ['-frames:v', '1', '-c:v', 'png', '-f', 'image2', '-update', '1'];

/**
 * A user's image (PNG with its alpha, JPEG or WebP; nothing else is opened) scaled to `widthPx`.
 *
 * @example imageAssetArgs('/cache/logo.input', '/tmp/wm.png', 192)
 */
export function imageAssetArgs(input: string, output: string, widthPx: number): string[] {
  return [
    ...commonArgs(),
    ...inputArgs(input, undefined, IMAGE_DEMUXERS),
    '-vf', `scale=${widthPx}:-2:flags=lanczos,format=rgba`,
    ...PNG_OUT,
    output,
  ];
}

/** Glyph advance of DejaVu Sans Mono, in em: a monospace font makes the text's width exact. */
const MONO_ADVANCE = 0.6021;
const RENDER_FONT_PX = 64;
const BORDER_PX = 3;

/**
 * A text rendered on a transparent canvas that fits it exactly, then scaled to `widthPx`. The
 * text comes from a file, never from the filter string, so nothing in it is interpreted (no
 * escaping, no `%{…}` expansion); ffmpeg runs in the file's directory and gets only its plain
 * name, so no path characters reach the filter graph either.
 *
 * @example textAssetArgs('text.txt', 17, '#ffffff', '/tmp/wm.png', 192) // run with cwd = the text file's directory
 */
export function textAssetArgs(textFileName: string, characters: number, color: string, output: string, widthPx: number): string[] {
  if (!/^[\w.-]+$/.test(textFileName)) throw new Error(`textAssetArgs needs a plain file name, got "${textFileName}"`);
  const pad = BORDER_PX + 1;
  const width = Math.ceil(characters * MONO_ADVANCE * RENDER_FONT_PX) + 2 * pad;
  const height = Math.ceil(RENDER_FONT_PX * 1.2) + 2 * pad;
  const drawtext = [
    `textfile=${textFileName}`,
    'font=DejaVu Sans Mono',
    `fontsize=${RENDER_FONT_PX}`,
    `fontcolor=${color}`,
    // A soft dark outline keeps light text readable on light pictures.
    `borderw=${BORDER_PX}`, 'bordercolor=black@0.6',
    `x=${pad}`, `y=${pad}`,
    'expansion=none',
  ].join(':');
  return [
    ...commonArgs(),
    '-filter_complex', `color=c=black@0.0:s=${width}x${height},format=rgba,drawtext=${drawtext},scale=${widthPx}:-2:flags=lanczos`,
    ...PNG_OUT,
    output,
  ];
}
