/**
 * Suites that need a tool the repo cannot ship (PostgreSQL, schemathesis, docker-compose): in CI
 * (`CI` set, as .ci/run does) a missing tool is a failed test that says what is missing; on a
 * developer machine the suite is skipped, and the skip says why on stderr as well as in the report.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';

/** CI as most runners spell it: set, and not "0" or "false". */
export const inCI = Boolean(process.env.CI) && !['0', 'false'].includes(process.env.CI!.toLowerCase());

/**
 * The `skip` option for tests that need `tool`: false when it is there; otherwise the reason, and
 * in CI also a failing test named after the tool, so the run cannot pass without it.
 *
 * @example const skip = needTool('schemathesis', bin !== null, '.ci/run installs it'); test('…', { skip }, …)
 */
export function needTool(tool: string, found: boolean, howToGet: string): false | string {
  if (found) return false;
  const reason = `${tool} is not available: ${howToGet}`;
  if (inCI) {
    test(`${tool} is available (required when CI is set)`, () => assert.fail(reason));
  } else {
    console.error(`skipping the tests that need ${tool}: ${reason}`);
  }
  return reason;
}
