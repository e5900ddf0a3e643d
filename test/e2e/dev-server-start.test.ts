/**
 * The Temporal dev server sometimes dies while starting on a busy machine (CLI 1.5 panics in
 * devserver.Start when an ephemeral port it picked is taken meanwhile; seen once in CI, where it
 * cancelled a whole suite). startDevServer starts it again, at most three times in all.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { findTemporalCli, startDevServer } from '../../scripts/temporal-cli';
import { freePort } from '../helpers/stack';

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mediaflow-devstart-'));
after(() => fs.rm(dir, { recursive: true, force: true }));

/** A `temporal` that dies like the panic for its first `failures` server starts, then is the real CLI. */
async function flakyCli(failures: number): Promise<{ path: string; starts: () => Promise<number> }> {
  const real = findTemporalCli();
  assert.ok(real, 'the Temporal CLI is needed (scripts/temporal-cli.ts builds it)');
  const counter = path.join(dir, `starts-${failures}`);
  const script = path.join(dir, `temporal-${failures}`);
  await fs.writeFile(
    script,
    [
      '#!/usr/bin/env bash',
      `if [ "$1" = server ]; then echo x >> '${counter}'; fi`,
      `if [ "$1" = server ] && [ "$(wc -l < '${counter}')" -le ${failures} ]; then`,
      '  echo "panic: failed assigning ephemeral port" >&2; sleep 0.3; exit 2',
      'fi',
      `exec '${real}' "$@"`,
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  return { path: script, starts: async () => (await fs.readFile(counter, 'utf8')).trim().split('\n').length };
}

async function withCli<T>(cli: string, run: () => Promise<T>): Promise<T> {
  const before = process.env.TEMPORAL_CLI_PATH;
  process.env.TEMPORAL_CLI_PATH = cli;
  try {
    return await run();
  } finally {
    if (before === undefined) delete process.env.TEMPORAL_CLI_PATH;
    else process.env.TEMPORAL_CLI_PATH = before;
  }
}

test('a dev server that dies while starting is started again, and then answers', async () => {
  const cli = await flakyCli(2);
  const server = await withCli(cli.path, async () => startDevServer({ port: await freePort(), readyTimeoutMs: 120_000 }));
  try {
    assert.equal(await cli.starts(), 3, 'two early deaths, then the real start');
    const connection = await Connection.connect({ address: server.address });
    const answer = await connection.workflowService.describeNamespace({ namespace: 'default' });
    assert.equal(answer.namespaceInfo?.name, 'default');
    await connection.close();
  } finally {
    await server.stop();
  }
});

test('a dev server that keeps dying is reported after three starts, with the exit code', async () => {
  const cli = await flakyCli(5);
  await assert.rejects(
    withCli(cli.path, async () => startDevServer({ port: await freePort(), readyTimeoutMs: 60_000 })),
    /exited with code 2 before it answered/,
  );
  assert.equal(await cli.starts(), 3);
});
