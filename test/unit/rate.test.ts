/** Frame rates as fractions: the probe keeps them exact, the planner's standard-rate rule, exact GOP milliseconds. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { constantRate, framesToMs, parseRate, rateFromNumber, rateText } from '../../media/rate';
import { parseProbe, type ProbeJson } from '../../media/probe-parse';

const limits = { maxDurationSec: 14400, maxPixels: 35389440 };
function probe(avg: string, r: string): ProbeJson {
  return {
    streams: [{ codec_type: 'video', codec_name: 'h264', width: 640, height: 360, avg_frame_rate: avg, r_frame_rate: r }],
    format: { format_name: 'mov,mp4,m4a,3gp,3g2,mj2', duration: '13.013' },
  };
}

describe('probe: the exact rate beside the decimal', () => {
  test('30000/1001 stays a fraction (the decimal is 29.97, as before)', () => {
    const v = parseProbe(probe('30000/1001', '30000/1001'), 1, limits).video!;
    assert.deepEqual([v.fps, v.fpsRational], [29.97, '30000/1001']);
  });
  test('a VFR clip: its average, reduced', () => {
    const v = parseProbe(probe('67434/2000', '60/1'), 1, limits).video!;
    assert.deepEqual([v.fps, v.fpsRational], [33.717, '33717/1000']);
  });
  test('no average stated: the nominal rate; none at all: no fraction', () => {
    assert.equal(parseProbe(probe('0/0', '25/1'), 1, limits).video!.fpsRational, '25/1');
    const v = parseProbe(probe('0/0', '0/0'), 1, limits).video!;
    assert.deepEqual([v.fps, v.fpsRational], [0, undefined]);
  });
});

describe('rates', () => {
  test('parseRate reads ffprobe fractions and refuses garbage', () => {
    assert.deepEqual(parseRate('30000/1001'), { num: 30000, den: 1001 });
    assert.deepEqual(parseRate('50/2'), { num: 25, den: 1 });
    assert.deepEqual(parseRate('24'), { num: 24, den: 1 });
    for (const bad of ['0/0', '0/1', '25/0', '-25/1', '29.97', 'abc', '', undefined]) assert.equal(parseRate(bad), null, String(bad));
  });
  test('constantRate: standard rates exact, VFR/odd to the nearest standard rate not above, slow sources their own', () => {
    const cases: [string, string][] = [
      ['30000/1001', '30000/1001'], ['2997/100', '30000/1001'], ['24000/1001', '24000/1001'], ['24/1', '24/1'], ['25/1', '25/1'],
      ['60000/1001', '60000/1001'], ['60/1', '60/1'], ['33717/1000', '30/1'], ['2995/100', '25/1'], ['24/1', '24/1'], ['2398/100', '24000/1001'], ['239/10', '239/10'],
      ['48/1', '30/1'], ['240/1', '60/1'], ['15/1', '15/1'], ['25/2', '25/2'], ['83333/10000', '8333/1000'],
    ];
    for (const [avg, want] of cases) assert.equal(rateText(constantRate(parseRate(avg)!)), want, avg);
  });
  test('rateFromNumber: a template decimal that is a standard rate is that rate', () => {
    assert.equal(rateText(rateFromNumber(29.97)!), '30000/1001');
    assert.equal(rateText(rateFromNumber(23.976)!), '24000/1001');
    assert.equal(rateText(rateFromNumber(12.5)!), '25/2');
    assert.equal(rateFromNumber(0), null);
  });
  test('framesToMs: exact, or null when not a whole millisecond', () => {
    assert.equal(framesToMs(60, { num: 30000, den: 1001 }), 2002);
    assert.equal(framesToMs(48, { num: 24000, den: 1001 }), 2002);
    assert.equal(framesToMs(25, { num: 30000, den: 1001 }), null);
    assert.equal(framesToMs(50, { num: 25, den: 1 }), 2000);
  });
});
