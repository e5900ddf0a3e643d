/** The shape of a concatenation's plan (media/concat.ts makes it; a transcode task carries it). Types only. */
import type { JobInput } from '../model/job';

/** One input of the joined timeline. */
export interface ConcatSegment {
  input: JobInput;
  /** Seconds into the input where its part starts (0: the beginning). */
  startSec: number;
  /** Seconds of the input that are used. */
  durationSec: number;
  /** Frames of this part at the joined rate (0 when the run has no video). */
  frames: number;
  /** Samples of this part at `sampleRate`: exactly `frames` long when there is video. */
  samples: number;
  /** The input has a picture; without one, black frames stand in. */
  video: boolean;
  /** Which audio stream of the input is used; null: it has none, and silence stands in. */
  audioStream: number | null;
  /** Non-square pixels: stretched to square before fitting. */
  sar: [number, number];
  interlaced: boolean;
}

/** How a run joins its inputs into one picture stream and one audio stream. */
export interface ConcatPlan {
  segments: ConcatSegment[];
  /** The joined picture: the first video input's display size, at the joined rate. */
  width: number;
  height: number;
  /** The joined rate as a fraction (`30000/1001`): the fastest rate any rendition of the job uses. */
  rate: string;
  pixFmt: 'yuv420p' | 'yuv420p10le';
  /** The joined audio: 48 kHz, mono or stereo (the most any output uses). */
  sampleRate: number;
  channels: number;
  /** Whether the run joins pictures and sounds at all (audio-only or video-only jobs need one). */
  withVideo: boolean;
  withAudio: boolean;
}
