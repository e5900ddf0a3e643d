/** The workflows a mediaflow worker registers. */
export { mediaJob } from './media-job';
