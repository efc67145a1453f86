/**
 * A minimal zip reader for PyTorch checkpoints: `torch.save` (since PyTorch 1.6) writes an
 * uncompressed zip whose entries are the pickle (`<name>/data.pkl`) and one raw file per tensor
 * storage. We read the central directory (the authoritative list: local headers may defer their
 * sizes to a data descriptor) and hand out entry bytes as views into the file buffer, so a 100 MB
 * weights file is not copied. Deflated entries are inflated (torch never writes them, but a user's
 * re-zipped file might); zip64 and encryption are refused with a clear error.
 */
import { inflateRawSync } from 'node:zlib';

export interface ZipEntry {
  readonly name: string;
  /** 0 = stored, 8 = deflate. */
  readonly method: number;
  readonly compressedSize: number;
  readonly size: number;
  /** Offset of the entry's local file header. */
  readonly localHeaderOffset: number;
}

const EOCD_SIG = 0x06054b50;
const CENTRAL_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;
const ZIP64_MARK = 0xffffffff;

/** True when the buffer starts like a zip archive (a local file header). */
export function looksLikeZip(buf: Uint8Array): boolean {
  return buf.length >= 4 && buf[0] === 0x50 && buf[1] === 0x4b && buf[2] === 0x03 && buf[3] === 0x04;
}

export class ZipArchive {
  readonly entries: ReadonlyMap<string, ZipEntry>;
  private readonly view: DataView;

  /** `label` names the file in every error (usually its path). */
  constructor(
    private readonly buf: Uint8Array,
    private readonly label: string,
  ) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.entries = this.readCentralDirectory();
  }

  private fail(what: string): never {
    throw new Error(`${this.label}: not a readable zip archive: ${what}`);
  }

  private readCentralDirectory(): Map<string, ZipEntry> {
    const v = this.view;
    // The end-of-central-directory record is the last 22 bytes plus an optional comment of up to
    // 65535 bytes, so search backwards for its signature.
    let eocd = -1;
    for (let p = this.buf.length - 22; p >= Math.max(0, this.buf.length - 22 - 0xffff); p--) {
      if (v.getUint32(p, true) === EOCD_SIG) {
        eocd = p;
        break;
      }
    }
    if (eocd < 0) this.fail('no end-of-central-directory record (truncated or not a zip file)');
    const count = v.getUint16(eocd + 10, true);
    const cdSize = v.getUint32(eocd + 12, true);
    const cdOffset = v.getUint32(eocd + 16, true);
    if (count === 0xffff || cdSize === ZIP64_MARK || cdOffset === ZIP64_MARK) this.fail('zip64 archives (over 4 GiB or 65535 entries) are not supported');
    if (cdOffset + cdSize > eocd) this.fail(`central directory (${cdOffset}+${cdSize}) runs past its end record at ${eocd}`);
    const entries = new Map<string, ZipEntry>();
    let p = cdOffset;
    for (let i = 0; i < count; i++) {
      if (p + 46 > eocd || v.getUint32(p, true) !== CENTRAL_SIG) this.fail(`central directory entry ${i} at offset ${p} is damaged`);
      const flags = v.getUint16(p + 8, true);
      const method = v.getUint16(p + 10, true);
      const compressedSize = v.getUint32(p + 20, true);
      const size = v.getUint32(p + 24, true);
      const nameLen = v.getUint16(p + 28, true);
      const extraLen = v.getUint16(p + 30, true);
      const commentLen = v.getUint16(p + 32, true);
      const localHeaderOffset = v.getUint32(p + 42, true);
      const name = new TextDecoder().decode(this.buf.subarray(p + 46, p + 46 + nameLen));
      if (flags & 1) this.fail(`entry ${name} is encrypted`);
      if (compressedSize === ZIP64_MARK || size === ZIP64_MARK || localHeaderOffset === ZIP64_MARK) this.fail(`entry ${name} needs zip64, which is not supported`);
      if (method !== 0 && method !== 8) this.fail(`entry ${name} uses compression method ${method} (only stored and deflate are supported)`);
      entries.set(name, { name, method, compressedSize, size, localHeaderOffset });
      p += 46 + nameLen + extraLen + commentLen;
    }
    return entries;
  }

  /** The entry's bytes (a view into the archive for stored entries). */
  read(name: string): Uint8Array {
    const e = this.entries.get(name);
    if (!e) throw new Error(`${this.label}: zip entry ${name} is missing`);
    const v = this.view;
    const h = e.localHeaderOffset;
    if (h + 30 > this.buf.length || v.getUint32(h, true) !== LOCAL_SIG) this.fail(`local header of ${name} at offset ${h} is damaged`);
    // The local header's name and extra lengths may differ from the central directory's (torch
    // pads the extra field so that tensor data is 64-byte aligned).
    const start = h + 30 + v.getUint16(h + 26, true) + v.getUint16(h + 28, true);
    const end = start + e.compressedSize;
    if (end > this.buf.length) {
      throw new Error(`${this.label}: zip entry ${name} is truncated: expected ${e.compressedSize} bytes at offset ${start}, the file has ${Math.max(0, this.buf.length - start)}`);
    }
    const raw = this.buf.subarray(start, end);
    if (e.method === 0) {
      if (e.size !== e.compressedSize) this.fail(`stored entry ${name} has size ${e.size} but ${e.compressedSize} stored bytes`);
      return raw;
    }
    let out: Uint8Array;
    try {
      out = inflateRawSync(raw);
    } catch (err) {
      this.fail(`entry ${name} does not inflate: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (out.length !== e.size) this.fail(`entry ${name} inflates to ${out.length} bytes, expected ${e.size}`);
    return out;
  }
}
