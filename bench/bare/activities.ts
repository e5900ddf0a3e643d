/** The bare baseline's one activity: run commands one after another (argv[0] is the binary). */
import { execa } from 'execa';

export interface BareActivities {
  run(commands: string[][]): Promise<void>;
}

export const bareActivities: BareActivities = {
  async run(commands) {
    for (const [binary, ...args] of commands) await execa(binary!, args, { stdin: 'ignore', stdout: 'ignore' });
  },
};
