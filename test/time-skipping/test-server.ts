/**
 * Temporal's time-skipping test server for workflow tests with stub activities.
 *
 * The SDK's `TestWorkflowEnvironment.createTimeSkipping()` downloads a native build of this server
 * from GitHub, which machines without internet cannot reach. The same server is published on Maven
 * Central as the Java SDK's `io.temporal:temporal-testing` (`io.temporal.testserver.TestServer PORT`):
 * Maven resolves its classpath once (test-server/pom.xml; cached under ~/.cache/mediaflow), `java`
 * runs it on a free port, and the environment attaches to it with time skipping on. We start the
 * process ourselves because the SDK gives a server it starts only 5 s to answer, too short for a
 * JVM on two busy cores.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { searchAttributes } from '../../workflows/definitions';
import { freePort } from '../helpers/stack';

const POM = path.join(import.meta.dirname, 'test-server', 'pom.xml');
const VERSION = /<artifactId>temporal-testing<\/artifactId>\s*<version>([^<]+)</.exec(readFileSync(POM, 'utf8'))![1]!;

/** The server's Java classpath, resolved by Maven on first use (it downloads the jars once). */
function classpath(): string {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  const file = path.join(base, 'mediaflow', `temporal-test-server-${VERSION}.classpath`);
  const cached = existsSync(file) ? readFileSync(file, 'utf8').trim() : '';
  if (cached && cached.split(path.delimiter).every((jar) => existsSync(jar))) return cached;
  mkdirSync(path.dirname(file), { recursive: true });
  const mvn = spawnSync('mvn', ['-q', '-B', '-f', POM, 'dependency:build-classpath', `-Dmdep.outputFile=${file}`], { stdio: ['ignore', 'inherit', 'inherit'], timeout: 600_000 });
  if (mvn.error || mvn.status !== 0) {
    throw new Error(`the time-skipping test server needs Java and Maven (io.temporal:temporal-testing:${VERSION} from Maven Central): mvn ${mvn.error?.message ?? `exited with ${mvn.status}`}`);
  }
  return readFileSync(file, 'utf8').trim();
}

/** temporal.api.enums.v1.IndexedValueType, by the SDK's type names (the proto package is not ours to import). */
const indexedType = { TEXT: 1, KEYWORD: 2, INT: 3, DOUBLE: 4, BOOL: 5, DATETIME: 6, KEYWORD_LIST: 7 } as const;

export interface TimeSkippingServer {
  env: TestWorkflowEnvironment;
  stop(): Promise<void>;
}

/**
 * @example const { env, stop } = await startTimeSkippingServer(); after(stop)
 */
export async function startTimeSkippingServer(): Promise<TimeSkippingServer> {
  const cp = classpath();
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const child = spawn('java', ['-cp', cp, 'io.temporal.testserver.TestServer', String(port)], { stdio: ['ignore', 'ignore', 'inherit'], detached: true });
  const killOnExit = (): void => void child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stopServer = async (): Promise<void> => {
    process.off('exit', killOnExit);
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGKILL');
    await exited;
  };
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`the test server exited with ${child.exitCode}`);
      try {
        const c = await Connection.connect({ address, connectTimeout: 1000 });
        await c.workflowService.getSystemInfo({});
        await c.close();
        break;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`the test server did not answer at ${address}: ${String(err)}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    // What createTimeSkipping() does after starting the server itself, with our process instead
    // (the SDK's public entry points either download the server or turn time skipping off).
    const create = (TestWorkflowEnvironment as unknown as { create(o: object): Promise<TestWorkflowEnvironment> }).create.bind(TestWorkflowEnvironment);
    const env = await create({ server: { type: 'existing' }, address, namespace: 'default', supportsTimeSkipping: true });
    // The workflow upserts these: the server must know them.
    await env.connection.operatorService.addSearchAttributes({
      namespace: 'default',
      searchAttributes: Object.fromEntries(Object.values(searchAttributes).map((k) => [k.name, indexedType[k.type]])),
    });
    return {
      env,
      async stop() {
        await env.teardown();
        await stopServer();
      },
    };
  } catch (err) {
    await stopServer();
    throw err;
  }
}
