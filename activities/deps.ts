/** What every activity is made with; its own module so the activity files need not import index.ts, which imports them. */
import type { Config } from '../model/config';
import type { Storage } from '../storage/storage';
import type { Database } from '../db/types';
import type { FfmpegBinaries } from './ffmpeg-path';

export interface ActivityDeps {
  config: Config;
  storage: Storage;
  binaries: FfmpegBinaries;
  /** Opened on first use: only jobs held by a paused pipeline need the database. */
  db: () => Promise<Database>;
  /** Scratch space for this worker; nothing in it is needed by any other worker. */
  workDir: string;
  /** Tells the activity's workflow that a worker has started it (its tasks show `running`); absent in tests without a worker. */
  announceStarted?: (workflowId: string, activityId: string, attempt: number) => Promise<void>;
}
