/**
 * CRC-64/ECMA-182 as OSS reports it in `x-oss-hash-crc64ecma` (the reflected variant also called
 * CRC-64/XZ: init and final XOR all ones), as an unsigned decimal string.
 * Computed in 32-bit halves, eight bytes per step (slice-by-8): ~GB/min on one core, no BigInt per byte.
 */

// The reflected polynomial 0xC96C5795D7870F42 in halves.
const POLY_HI = 0xc96c5795;
const POLY_LO = 0xd7870f42;

/** T[k * 256 + i]: the CRC of byte i followed by k zero bytes, in halves. */
const tableHi = new Uint32Array(256 * 8);
const tableLo = new Uint32Array(256 * 8);
for (let i = 0; i < 256; i++) {
  let hi = 0;
  let lo = i;
  for (let bit = 0; bit < 8; bit++) {
    const lsb = lo & 1;
    lo = ((lo >>> 1) | ((hi & 1) << 31)) >>> 0;
    hi = hi >>> 1;
    if (lsb) {
      lo = (lo ^ POLY_LO) >>> 0;
      hi = (hi ^ POLY_HI) >>> 0;
    }
  }
  tableHi[i] = hi;
  tableLo[i] = lo;
}
for (let k = 1; k < 8; k++) {
  for (let i = 0; i < 256; i++) {
    const prevHi = tableHi[(k - 1) * 256 + i]!;
    const prevLo = tableLo[(k - 1) * 256 + i]!;
    const idx = prevLo & 0xff;
    tableLo[k * 256 + i] = (((prevLo >>> 8) | ((prevHi & 0xff) << 24)) ^ tableLo[idx]!) >>> 0;
    tableHi[k * 256 + i] = ((prevHi >>> 8) ^ tableHi[idx]!) >>> 0;
  }
}

/**
 * Incremental CRC-64/ECMA.
 *
 * @example new Crc64().update(Buffer.from('123456789')).digest() // '11051210869376104954'
 */
export class Crc64 {
  // The running CRC, pre-inverted (init = all ones).
  private hi = 0xffffffff;
  private lo = 0xffffffff;

  update(data: Uint8Array): this {
    let hi = this.hi;
    let lo = this.lo;
    const n = data.length;
    let i = 0;
    const T = tableLo;
    const H = tableHi;
    for (; i + 8 <= n; i += 8) {
      lo = (lo ^ (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24))) >>> 0;
      hi = (hi ^ (data[i + 4]! | (data[i + 5]! << 8) | (data[i + 6]! << 16) | (data[i + 7]! << 24))) >>> 0;
      const a = 7 * 256 + (lo & 0xff);
      const b = 6 * 256 + ((lo >>> 8) & 0xff);
      const c = 5 * 256 + ((lo >>> 16) & 0xff);
      const d = 4 * 256 + (lo >>> 24);
      const e = 3 * 256 + (hi & 0xff);
      const f = 2 * 256 + ((hi >>> 8) & 0xff);
      const g = 256 + ((hi >>> 16) & 0xff);
      const h = hi >>> 24;
      lo = (T[a]! ^ T[b]! ^ T[c]! ^ T[d]! ^ T[e]! ^ T[f]! ^ T[g]! ^ T[h]!) >>> 0;
      hi = (H[a]! ^ H[b]! ^ H[c]! ^ H[d]! ^ H[e]! ^ H[f]! ^ H[g]! ^ H[h]!) >>> 0;
    }
    for (; i < n; i++) {
      const idx = (lo ^ data[i]!) & 0xff;
      lo = (((lo >>> 8) | ((hi & 0xff) << 24)) ^ T[idx]!) >>> 0;
      hi = ((hi >>> 8) ^ H[idx]!) >>> 0;
    }
    this.hi = hi;
    this.lo = lo;
    return this;
  }

  /** The CRC so far as OSS writes it: an unsigned 64-bit decimal. */
  digest(): string {
    const hi = BigInt((~this.hi) >>> 0);
    const lo = BigInt((~this.lo) >>> 0);
    return ((hi << 32n) | lo).toString();
  }
}

/** @example crc64(Buffer.from('123456789')) // '11051210869376104954' */
export function crc64(data: Uint8Array): string {
  return new Crc64().update(data).digest();
}
