// png.mjs - makes the guide's screenshots small: decodes Chromium's PNG
// (8-bit RGB or RGBA, not interlaced), drops an alpha channel that is all
// opaque, uses a palette when the picture has at most 256 colours, chooses
// each row's filter, and deflates at level 9. Lossless.
import { deflateSync, inflateSync } from 'node:zlib';

const SIGNATURE = Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]);
const CRC_TABLE = Array.from({ length: 256 }, (_v, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes) {
  let c = 0xffffffff;
  for (const byte of bytes) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const sum = Buffer.alloc(4);
  sum.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, sum]);
}

function paeth(a, b, c) {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

function decode(png) {
  if (!png.subarray(0, 8).equals(SIGNATURE)) throw new Error('not a PNG');
  let offset = 8;
  let header = null;
  const idat = [];
  while (offset < png.length) {
    const length = png.readUInt32BE(offset);
    const type = png.toString('latin1', offset + 4, offset + 8);
    const data = png.subarray(offset + 8, offset + 8 + length);
    if (type === 'IHDR') header = { width: data.readUInt32BE(0), height: data.readUInt32BE(4), depth: data[8], colour: data[9], interlace: data[12] };
    if (type === 'IDAT') idat.push(data);
    offset += 12 + length;
  }
  if (!header || header.depth !== 8 || header.interlace !== 0 || (header.colour !== 2 && header.colour !== 6)) return null;
  const channels = header.colour === 6 ? 4 : 3;
  const stride = header.width * channels;
  const raw = inflateSync(Buffer.concat(idat));
  const pixels = Buffer.alloc(stride * header.height);
  for (let y = 0; y < header.height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const out = pixels.subarray(y * stride, (y + 1) * stride);
    const prev = y > 0 ? pixels.subarray((y - 1) * stride, y * stride) : null;
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? out[x - channels] : 0;
      const b = prev ? prev[x] : 0;
      const c = prev && x >= channels ? prev[x - channels] : 0;
      const predictor = filter === 1 ? a : filter === 2 ? b : filter === 3 ? (a + b) >> 1 : filter === 4 ? paeth(a, b, c) : 0;
      out[x] = (line[x] + predictor) & 0xff;
    }
  }
  return { ...header, channels, pixels };
}

function filtered(rows, stride, bpp) {
  const out = [];
  for (let y = 0; y < rows.length; y++) {
    const line = rows[y];
    const prev = y > 0 ? rows[y - 1] : Buffer.alloc(stride);
    let best = null;
    let bestScore = Infinity;
    for (let filter = 0; filter < 5; filter++) {
      const candidate = Buffer.alloc(stride + 1);
      candidate[0] = filter;
      let score = 0;
      for (let x = 0; x < stride; x++) {
        const a = x >= bpp ? line[x - bpp] : 0;
        const b = prev[x];
        const c = x >= bpp ? prev[x - bpp] : 0;
        const predictor = filter === 1 ? a : filter === 2 ? b : filter === 3 ? (a + b) >> 1 : filter === 4 ? paeth(a, b, c) : 0;
        const value = (line[x] - predictor) & 0xff;
        candidate[x + 1] = value;
        score += value < 128 ? value : 256 - value;
      }
      if (score < bestScore) {
        bestScore = score;
        best = candidate;
      }
    }
    out.push(best);
  }
  return Buffer.concat(out);
}

export function optimizePng(png) {
  const image = decode(png);
  if (!image) return png;
  const { width, height, channels, pixels } = image;
  let opaque = true;
  if (channels === 4) for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 255) opaque = false;
  const palette = new Map();
  for (let i = 0; i < pixels.length && palette.size <= 256; i += channels) {
    const key = channels === 4 && !opaque ? pixels.readUInt32BE(i) : (pixels[i] << 16) | (pixels[i + 1] << 8) | pixels[i + 2];
    if (!palette.has(key)) palette.set(key, palette.size);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  const rows = [];
  const extra = [];
  if (palette.size <= 256 && (opaque || channels === 3)) {
    ihdr[9] = 3;
    const plte = Buffer.alloc(palette.size * 3);
    for (const [key, index] of palette) {
      plte[index * 3] = (key >> 16) & 0xff;
      plte[index * 3 + 1] = (key >> 8) & 0xff;
      plte[index * 3 + 2] = key & 0xff;
    }
    extra.push(chunk('PLTE', plte));
    for (let y = 0; y < height; y++) {
      const line = Buffer.alloc(width);
      for (let x = 0; x < width; x++) {
        const i = (y * width + x) * channels;
        line[x] = palette.get((pixels[i] << 16) | (pixels[i + 1] << 8) | pixels[i + 2]);
      }
      rows.push(line);
    }
    // Palette indices are not smooth: no filter deflates best.
    const data = Buffer.concat(rows.map((line) => Buffer.concat([Buffer.from([0]), line])));
    return Buffer.concat([SIGNATURE, chunk('IHDR', ihdr), ...extra, chunk('IDAT', deflateSync(data, { level: 9 })), chunk('IEND', Buffer.alloc(0))]);
  }
  const outChannels = opaque ? 3 : 4;
  ihdr[9] = opaque ? 2 : 6;
  for (let y = 0; y < height; y++) {
    const line = Buffer.alloc(width * outChannels);
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < outChannels; c++) line[x * outChannels + c] = pixels[(y * width + x) * channels + c];
    }
    rows.push(line);
  }
  const data = filtered(rows, width * outChannels, outChannels);
  const smaller = Buffer.concat([SIGNATURE, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(data, { level: 9, memLevel: 9 })), chunk('IEND', Buffer.alloc(0))]);
  return smaller.length < png.length ? smaller : png;
}
