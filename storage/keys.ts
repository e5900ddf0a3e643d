/** The key rules live in model/keys.ts (pure, used by model/ and the workflow bundle); the stores import them from there. */
export { bucketProblem, keyProblem, outputKey, prefixProblem, tenantKey, tenantPrefix, type ScopedKey } from '../model/keys';
