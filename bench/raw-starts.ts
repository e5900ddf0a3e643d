/**
 * The burst scenario's baseline, run as its own process (as bench/api-load.ts is): `clients`
 * loops start mediaJob workflows with the Temporal client directly — the same spec shape, task
 * queue, priority, memo and search attributes as the API's submitJob — until `total` are started.
 * Input: one JSON argument; output: one JSON line (latencies, wall time, the workflow ids).
 */
import { performance } from 'node:perf_hooks';
import { Client, Connection } from '@temporalio/client';
import { loadConfig, taskQueueFor } from '../model/config';
import { searchAttributes, WORKFLOW_TYPE } from '../workflows/definitions';
import { presetOutput, testSpec } from '../test/helpers/spec';

export interface RawPlan {
  address: string;
  namespace: string;
  pipeline: string;
  inputKey: string;
  clients: number;
  total: number;
}

export interface RawResult {
  latenciesMs: number[];
  wallMs: number;
  ids: string[];
}

async function main(plan: RawPlan): Promise<RawResult> {
  const connection = await Connection.connect({ address: plan.address });
  const client = new Client({ connection, namespace: plan.namespace });
  const config = loadConfig({ ...process.env });
  const latenciesMs: number[] = [];
  const ids: string[] = [];
  let left = plan.total;
  const one = async () => {
    const spec = testSpec(plan.inputKey, [presetOutput('small', 'mp4-h264-360p')], { snapshots: [], pipeline: plan.pipeline, waitForPipeline: true, retryWindowSec: config.JOB_RETRY_WINDOW_SEC });
    const t0 = performance.now();
    await client.workflow.start(WORKFLOW_TYPE, {
      workflowId: spec.id,
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      taskQueue: taskQueueFor(config, spec.pipeline),
      priority: { priorityKey: spec.priorityKey, fairnessKey: spec.tenant },
      args: [spec],
      memo: { createdAt: spec.createdAt, pipeline: spec.pipeline, inputKey: plan.inputKey, input: { key: plan.inputKey }, userData: null },
      typedSearchAttributes: [
        { key: searchAttributes.status, value: 'queued' },
        { key: searchAttributes.pipeline, value: spec.pipeline },
        { key: searchAttributes.tenant, value: spec.tenant },
        { key: searchAttributes.templates, value: ['mp4-h264-360p'] },
      ],
      staticSummary: `${plan.inputKey} → small`,
      staticDetails: `tenant ${spec.tenant} · pipeline ${spec.pipeline} · outputs under ${spec.id}/`,
    });
    latenciesMs.push(performance.now() - t0);
    ids.push(spec.id);
  };
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: plan.clients }, async () => {
      while (left > 0) {
        left--;
        await one();
      }
    }),
  );
  const wallMs = performance.now() - t0;
  await connection.close();
  return { latenciesMs, wallMs, ids };
}

const plan = JSON.parse(process.argv[2] ?? '{}') as RawPlan;
process.stdout.write(`${JSON.stringify(await main(plan))}\n`);
