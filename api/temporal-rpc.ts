/**
 * Temporal calls of the API, under its deadline, and counted: a closing API waits for the calls
 * still in flight before it closes its connection (a call retrying on a closed channel throws
 * "Channel has been shut down" from a timer, which would crash the process).
 */
import type { Client } from '@temporalio/client';
import type { Config } from '../model/config';

const inFlight = new WeakMap<Client, Set<Promise<unknown>>>();

/**
 * Runs a Temporal call under the API's deadline: without one the SDK keeps retrying an unreachable
 * server for many seconds, and the client should hear 503 sooner.
 *
 * @example await rpc({ client, config }, () => client.workflow.count(query))
 */
export function rpc<T>({ client, config }: { client: Client; config: Pick<Config, 'TEMPORAL_RPC_TIMEOUT_SEC'> }, call: () => Promise<T>): Promise<T> {
  const running = client.connection.withDeadline(Date.now() + config.TEMPORAL_RPC_TIMEOUT_SEC * 1000, call);
  let calls = inFlight.get(client);
  if (!calls) inFlight.set(client, (calls = new Set()));
  const tracked: Promise<unknown> = running.then(
    () => undefined,
    () => undefined,
  );
  calls.add(tracked);
  void tracked.then(() => calls.delete(tracked));
  return running;
}

/** Resolves once every call `rpc` started on `client` has settled (each is bounded by its deadline). */
export async function settled(client: Client): Promise<void> {
  const calls = inFlight.get(client);
  while (calls?.size) await Promise.all([...calls]);
}
