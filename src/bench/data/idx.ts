/**
 * The IDX file format of the MNIST distribution (http://yann.lecun.com/exdb/mnist/, also used
 * unchanged by Fashion-MNIST): a 4-byte magic number `0x00 0x00 type ndim`, then `ndim` big-endian
 * uint32 sizes, then the values in row-major order. Both datasets use only unsigned bytes (type 0x08):
 * labels are 1-D (magic 0x00000801), images 3-D `count × rows × cols` (magic 0x00000803).
 * @module
 */
import { gunzipSync } from 'node:zlib';

/** Magic number of a 1-D unsigned-byte IDX file (labels). */
export const idxLabelsMagic = 0x00000801;
/** Magic number of a 3-D unsigned-byte IDX file (images). */
export const idxImagesMagic = 0x00000803;

/** A parsed IDX file: its sizes and the values (a view, not a copy). */
export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

function hex32(value: number): string {
  return `0x${value.toString(16).padStart(8, '0')}`;
}

/** True when `buf` starts with the gzip magic bytes 1f 8b (RFC 1952). */
export function isGzip(buf: Uint8Array): boolean {
  return buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b;
}

/**
 * Parses an IDX file of unsigned bytes, gunzipping it first when it is gzip data (the distribution
 * ships `.gz` files; some mirrors and packages ship them uncompressed).
 *
 * `what` names the file in errors, which say what is wrong and by how much: a wrong magic number, a
 * file shorter than its header says (an interrupted download), bytes left over after the data, or gzip
 * data that does not inflate.
 */
export function parseIdx(buf: Uint8Array, what: string): IdxArray {
  let bytes = buf;
  if (isGzip(buf)) {
    try {
      bytes = gunzipSync(buf);
    } catch (e) {
      throw new Error(`${what}: corrupt gzip data: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
  }
  if (bytes.length < 4) {
    throw new Error(`${what}: not an IDX file (${bytes.length} bytes; an IDX file starts with a 4-byte magic number)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  if (magic !== idxLabelsMagic && magic !== idxImagesMagic) {
    throw new Error(
      `${what}: not an IDX file (magic ${hex32(magic)}; expected ${hex32(idxLabelsMagic)} or ${hex32(idxImagesMagic)})`,
    );
  }
  const ndim = magic & 0xff;
  const headerBytes = 4 + 4 * ndim;
  if (bytes.length < headerBytes) {
    throw new Error(`${what}: truncated: the IDX header needs ${headerBytes} bytes, file has ${bytes.length}`);
  }
  const dims: number[] = [];
  for (let i = 0; i < ndim; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const expected = dims.reduce((a, b) => a * b, 1);
  const present = bytes.length - headerBytes;
  if (present < expected) {
    throw new Error(`${what}: truncated: header says ${expected} bytes of data, file has ${present}`);
  }
  if (present > expected) {
    throw new Error(
      `${what}: ${present - expected} unexpected bytes after the data (header says ${expected} bytes of data, file has ${present})`,
    );
  }
  return { dims, data: new Uint8Array(bytes.buffer, bytes.byteOffset + headerBytes, expected) };
}
