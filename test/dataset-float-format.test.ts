import { strict as assert } from 'node:assert';
import { writeFloat32Rounded, writeNumber } from '../activities/dataset/float-format';
import { mulberry32 } from '../activities/random';

/** The CSV writer's number formatting must give exactly the bytes of String(x) / String(+x.toPrecision(8)). */
describe('dataset CSV number formatting', () => {
  const buf = Buffer.alloc(64);
  const f64 = new Float64Array(1);
  const words = new Uint32Array(f64.buffer);
  const f32 = new Float32Array(1);
  const words32 = new Uint32Array(f32.buffer);
  const rnd = mulberry32(11);
  const fmt = (x: number) => buf.toString('latin1', 0, writeNumber(buf, 0, x));
  const fmt32 = (x: number) => buf.toString('latin1', 0, writeFloat32Rounded(buf, 0, x));
  const same = (x: number) => assert.equal(fmt(x), String(x), `bits ${words[1]?.toString(16)}:${words[0]}`);
  const same32 = (x: number) => assert.equal(fmt32(x), String(+x.toPrecision(8)), `float32 ${x}`);

  it('writes String(x) for edge values, powers of ten and their neighbours, ties and integers', () => {
    const edge = [0, -0, NaN, Infinity, -Infinity, 5e-324, Number.MAX_VALUE, Number.MIN_VALUE, 2 ** 53, 2 ** 53 + 2];
    const ties = [900000000000000.25, 123456789012345.25, 0.5, 0.1, 0.2, 0.3, 1 / 3, 2 / 3, Math.PI, 1767225599000];
    for (const x of [...edge, ...ties]) [x, -x].forEach(same);
    for (let k = -9; k <= 17; k++) {
      const p = Number(`1e${k}`);
      for (const x of [p, p * (1 + 2 ** -52), p * (1 - 2 ** -53), p * (1 - 2 ** -52), p * (1 + 2 ** -51)]) {
        same(x);
        same32(Math.fround(x));
      }
    }
    for (let j = -30; j <= 60; j++) [2 ** j, 2 ** j * (1 + 2 ** -52), 2 ** j * (1 - 2 ** -53)].forEach(same);
  });

  it('writes String(x) for 600,000 random doubles, short decimals and their neighbours', () => {
    for (let i = 0; i < 200_000; i++) {
      // random bits with a decimal exponent in about [-7, 16]
      words[0] = (rnd() * 2 ** 32) >>> 0;
      words[1] = (((rnd() * 2 ** 20) >>> 0) | ((1000 + Math.floor(rnd() * 60)) << 20)) >>> 0;
      same(f64[0] as number);
      // a decimal of 1..17 digits and the doubles on either side of it
      const digits = 1 + Math.floor(rnd() * 17);
      let s = String(1 + Math.floor(rnd() * 9));
      for (let d = 1; d < digits; d++) s += String(Math.floor(rnd() * 10));
      const x = Number(`${s}e${Math.floor(rnd() * 24) - 8 - digits}`);
      same(-x);
      f64[0] = x;
      words[0] = words[0] + 1;
      same(f64[0]);
    }
  });

  it('writes String(+x.toPrecision(8)) for float32 values', () => {
    for (let i = 0; i < 200_000; i++) {
      same32(Math.fround(rnd() * 3 - 1));
      words32[0] = (rnd() * 2 ** 32) >>> 0;
      if (Number.isFinite(f32[0])) same32(f32[0] as number);
    }
    [0, -0, NaN, Infinity, 1, -1, 2, 0.5, 1e-6, 1e-5, 99999999, 1e8].forEach((x) => same32(Math.fround(x)));
  });
});
