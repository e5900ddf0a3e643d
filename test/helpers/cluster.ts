/** The cluster shape (scripts/cluster.ts) on free ports, for tests and benches on this machine. */
import { startCluster, type Cluster, type StartClusterOptions } from '../../scripts/cluster';
import { freePort, freePorts, temporalServerPort } from './stack';

/**
 * PostgreSQL, the Temporal server, `apis` APIs on consecutive free ports and `workers` workers.
 *
 * @example const c = await startLocalCluster({ dir, apis: 2, workers: 3 }); await c.stop()
 */
export async function startLocalCluster(o: Omit<StartClusterOptions, 'apiPort' | 'temporalPort' | 'pgPort'>): Promise<Cluster> {
  return startCluster({ ...o, apiPort: await freePorts(o.apis), temporalPort: await temporalServerPort(), pgPort: await freePort() });
}
