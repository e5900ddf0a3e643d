/**
 * Work classes: encodes run on the pipeline's task queue; light work (probe, snapshots, packaging,
 * cleanup, pipeline checks, callbacks) on a queue of its own beside it, polled by every worker in
 * separate slots, so a busy worker's encodes never hold up a new job's probe or a final callback.
 * Pure (the workflow bundle imports it).
 */

/**
 * @example lightQueueOf('mediaflow-default') // 'mediaflow-default:light'
 */
export function lightQueueOf(taskQueue: string): string {
  return `${taskQueue}:light`;
}
