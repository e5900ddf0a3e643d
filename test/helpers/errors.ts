/** Assertions on the coded errors (model/errors.ts) that storage and activity code throws. */
import assert from 'node:assert/strict';
import { MediaflowError } from '../../model/errors';

/** The MediaflowError `p` rejects with; fails the test if it resolves or throws anything else. */
export async function rejection(p: Promise<unknown>): Promise<MediaflowError> {
  const err = await p.then(
    () => assert.fail('expected a failure'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof MediaflowError, `got ${String(err)}`);
  return err;
}
