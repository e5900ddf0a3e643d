/** Job specs for tests that start workflows directly (the API builds them in production). */
import type { JobSpec, ResolvedOutput, ResolvedSnapshot } from '../../model/job';
import type { TranscodeTemplate } from '../../model/templates';
import { systemPreset } from '../../media/presets';
import { newJobId } from '../../api/jobs';

/** A resolved output from a system transcode preset, optionally changed. */
export function presetOutput(name: string, presetId: string, change: (t: TranscodeTemplate) => TranscodeTemplate = (t) => t): ResolvedOutput {
  const template = systemPreset(presetId, 'transcode');
  if (!template) throw new Error(`no transcode preset ${presetId}`);
  return { name, templateId: presetId, template: change(structuredClone(template)), clip: null, watermarks: [] };
}

export function snapshotAt(name: string, time: number, format: 'jpg' | 'png' | 'webp' = 'jpg', width?: number): ResolvedSnapshot {
  return { name, templateId: null, settings: { time, format, ...(width ? { width } : {}) } };
}

/**
 * @example const spec = testSpec('raw/a.mp4', [presetOutput('small', 'mp4-h264-360p')])
 */
export function testSpec(inputKey: string, outputs: ResolvedOutput[], extra: Partial<JobSpec> = {}): JobSpec {
  return {
    id: newJobId(),
    tenant: 'default',
    pipeline: 'default',
    priorityKey: 3,
    createdAt: new Date().toISOString(),
    input: { key: inputKey },
    outputs,
    snapshots: null,
    outputPrefix: '',
    notify: null,
    userData: null,
    retryWindowSec: 60,
    waitForPipeline: false,
    ...extra,
  };
}
