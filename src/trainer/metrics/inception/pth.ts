/**
 * Reads a PyTorch `state_dict` saved with `torch.save` into plain typed arrays, without Python.
 *
 * Two layouts exist and both are read, because a weights file from before PyTorch 1.6 (such as
 * pytorch-fid's, released in 2019) may use the older one:
 *  - zip (PyTorch >= 1.6): `<root>/data.pkl` is the pickled dict; each tensor storage is the raw
 *    little-endian file `<root>/data/<key>`; `<root>/byteorder`, when present, says `little`.
 *  - legacy: four pickles back to back (magic number, protocol version, system info, the dict),
 *    a fifth with the storage keys, then each storage as an int64 element count and its bytes.
 * In both, a tensor is `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)` with
 * the storage given by a persistent id ('storage', StorageType, key, location, numel[, view]).
 * Only the globals a state dict needs are allowed, so a hostile file cannot make us run anything.
 */
import { endianness } from 'node:os';
import { PickleTuple, unpickle, type PickleHooks, type PickleObject, type PickleValue } from './pickle';
import { looksLikeZip, ZipArchive } from './zip';

export type TorchDtype = 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

/** Typed array per dtype: float16/bfloat16 are widened to float32, bool is 0/1 bytes. */
export type TensorData = Float32Array | Float64Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array;

export interface TorchTensor {
  readonly dtype: TorchDtype;
  readonly shape: readonly number[];
  /** Contiguous row-major elements (a fresh copy, whatever the stored strides were). */
  readonly data: TensorData;
}

const STORAGE_TYPES: Record<string, { dtype: TorchDtype; bytes: number }> = {
  FloatStorage: { dtype: 'float32', bytes: 4 },
  DoubleStorage: { dtype: 'float64', bytes: 8 },
  HalfStorage: { dtype: 'float16', bytes: 2 },
  BFloat16Storage: { dtype: 'bfloat16', bytes: 2 },
  LongStorage: { dtype: 'int64', bytes: 8 },
  IntStorage: { dtype: 'int32', bytes: 4 },
  ShortStorage: { dtype: 'int16', bytes: 2 },
  CharStorage: { dtype: 'int8', bytes: 1 },
  ByteStorage: { dtype: 'uint8', bytes: 1 },
  BoolStorage: { dtype: 'bool', bytes: 1 },
};

/** 0x1950a86a20f9469cfc6c: the first pickle of a legacy torch.save file. */
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

class StorageType implements PickleObject {
  readonly pickleKind = 'storage type';
  constructor(
    readonly name: string,
    readonly dtype: TorchDtype,
    readonly bytes: number,
  ) {}
}

/** A callable global: collections.OrderedDict or a torch rebuild function. */
class Callable implements PickleObject {
  readonly pickleKind = 'function';
  constructor(readonly name: string) {}
}

class StorageRef implements PickleObject {
  readonly pickleKind = 'storage';
  constructor(
    readonly type: StorageType,
    readonly key: string,
    /** Element count declared in the persistent id. */
    readonly numel: number,
    /** Element offset into the root storage (legacy storage views), else 0. */
    readonly viewOffset: number,
  ) {}
}

class TensorRef implements PickleObject {
  readonly pickleKind = 'tensor';
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly size: readonly number[],
    readonly stride: readonly number[],
  ) {}
}

function isInt(v: PickleValue): v is number {
  return typeof v === 'number' && Number.isInteger(v);
}

function intTuple(v: PickleValue, what: string, fail: (m: string) => never): number[] {
  if (!(v instanceof PickleTuple) || !v.items.every(isInt)) fail(`${what} is not a tuple of ints`);
  return (v as PickleTuple).items as number[];
}

/** The pickle hooks for a torch state dict; storages are resolved later by key. */
function torchHooks(label: string, storages: Map<string, StorageRef>): PickleHooks {
  const fail = (m: string): never => {
    throw new Error(`${label}: ${m}`);
  };
  return {
    global(module, name) {
      const full = `${module}.${name}`;
      if (module === 'torch' && name in STORAGE_TYPES) {
        const t = STORAGE_TYPES[name];
        return new StorageType(name, t.dtype, t.bytes);
      }
      if (full === 'collections.OrderedDict' || full === 'torch._utils._rebuild_tensor_v2' || full === 'torch._utils._rebuild_tensor' || full === 'torch._utils._rebuild_parameter') {
        return new Callable(full);
      }
      return fail(`the pickle refers to ${full}, which is not part of a plain state dict of tensors (refused: loading it would need Python)`);
    },
    reduce(fn, args) {
      if (!(fn instanceof Callable)) return fail('REDUCE on something that is not an allowed function');
      switch (fn.name) {
        case 'collections.OrderedDict': {
          const d = new Map<PickleValue, PickleValue>();
          // OrderedDict() or OrderedDict([(k, v), ...]).
          const items = args[0];
          if (Array.isArray(items)) {
            for (const kv of items) {
              if (!(kv instanceof PickleTuple) || kv.items.length !== 2) fail('OrderedDict item is not a (key, value) pair');
              d.set((kv as PickleTuple).items[0], (kv as PickleTuple).items[1]);
            }
          }
          return d;
        }
        case 'torch._utils._rebuild_tensor_v2':
        case 'torch._utils._rebuild_tensor': {
          const [storage, offset, size, stride] = args;
          if (!(storage instanceof StorageRef)) return fail(`${fn.name}: first argument is not a storage`);
          if (!isInt(offset)) return fail(`${fn.name}: storage offset is not an int`);
          return new TensorRef(storage, offset, intTuple(size, 'tensor size', fail), intTuple(stride, 'tensor stride', fail));
        }
        case 'torch._utils._rebuild_parameter': {
          if (!(args[0] instanceof TensorRef)) return fail('_rebuild_parameter: first argument is not a tensor');
          return args[0];
        }
        default:
          return fail(`REDUCE of ${fn.name} is not supported`);
      }
    },
    build(obj, state) {
      // A state dict's OrderedDict carries `_metadata` (module versions) as its instance dict;
      // it does not affect the tensors.
      if (obj instanceof Map && (state instanceof Map || state === null)) return obj;
      return fail(`BUILD on a ${obj instanceof Map ? 'dict' : typeof obj} is not supported`);
    },
    persistentLoad(pid) {
      if (!(pid instanceof PickleTuple) || pid.items[0] !== 'storage') return fail("persistent id is not a ('storage', ...) tuple");
      const [, type, key, , numel, view] = pid.items;
      if (!(type instanceof StorageType)) return fail('persistent id has no storage type');
      if (typeof key !== 'string') return fail('persistent id has no string storage key');
      if (!isInt(numel)) return fail(`storage ${key} has no element count`);
      let ref = storages.get(key);
      if (!ref) {
        ref = new StorageRef(type, key, numel, 0);
        storages.set(key, ref);
      }
      // Legacy files may describe a storage as a view (view_key, offset, size) of a root storage.
      if (view instanceof PickleTuple) {
        const [viewKey, viewOffset, viewSize] = view.items;
        if (typeof viewKey !== 'string' || !isInt(viewOffset) || !isInt(viewSize)) return fail(`storage ${key} has a malformed view`);
        const v = new StorageRef(type, key, viewSize, viewOffset);
        storages.set(viewKey, v);
        return v;
      }
      return ref;
    },
  };
}

function widenHalf(bits: number): number {
  const s = bits & 0x8000 ? -1 : 1;
  const e = (bits >> 10) & 0x1f;
  const m = bits & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** Copies `numel` elements from `bytes` (any alignment) into a typed array of the dtype. */
function typed(dtype: TorchDtype, bytes: Uint8Array): TensorData {
  // An aligned copy (Buffer.slice would return a view at the same, possibly unaligned, offset).
  const b = new Uint8Array(bytes);
  switch (dtype) {
    case 'float32':
      return new Float32Array(b.buffer);
    case 'float64':
      return new Float64Array(b.buffer);
    case 'int64':
      return new BigInt64Array(b.buffer);
    case 'int32':
      return new Int32Array(b.buffer);
    case 'int16':
      return new Int16Array(b.buffer);
    case 'int8':
      return new Int8Array(b.buffer);
    case 'uint8':
    case 'bool':
      return b;
    case 'float16': {
      const h = new Uint16Array(b.buffer);
      return Float32Array.from(h, widenHalf);
    }
    case 'bfloat16': {
      const h = new Uint16Array(b.buffer);
      const out = new Float32Array(h.length);
      const u = new Uint32Array(out.buffer);
      for (let i = 0; i < h.length; i++) u[i] = h[i] << 16;
      return out;
    }
  }
}

function materialize(name: string, t: TensorRef, storageBytes: (ref: StorageRef) => Uint8Array, label: string): TorchTensor {
  const { type } = t.storage;
  if (t.size.length !== t.stride.length) throw new Error(`${label}: tensor ${name}: size and stride have different lengths`);
  const numel = t.size.reduce((a, b) => a * b, 1);
  const bytes = storageBytes(t.storage);
  const available = bytes.length / type.bytes;
  if (numel === 0) return { dtype: type.dtype, shape: [...t.size], data: typed(type.dtype, new Uint8Array(0)) };
  // Highest element index the view reads; it must lie inside the storage.
  let last = t.offset;
  for (let i = 0; i < t.size.length; i++) {
    if (t.stride[i] < 0 || t.size[i] < 0) throw new Error(`${label}: tensor ${name}: negative size or stride`);
    last += (t.size[i] - 1) * t.stride[i];
  }
  const begin = t.storage.viewOffset + t.offset;
  if (t.offset < 0 || t.storage.viewOffset + last >= available) {
    throw new Error(`${label}: tensor ${name} reads elements ${begin}..${t.storage.viewOffset + last} of storage ${t.storage.key}, which has ${available} (truncated or damaged file)`);
  }
  const span = typed(type.dtype, bytes.subarray(begin * type.bytes, (t.storage.viewOffset + last + 1) * type.bytes));
  let contiguous = true;
  for (let i = t.size.length - 1, expect = 1; i >= 0; i--) {
    if (t.size[i] !== 1 && t.stride[i] !== expect) contiguous = false;
    expect *= t.size[i];
  }
  if (contiguous) return { dtype: type.dtype, shape: [...t.size], data: span.length === numel ? span : span.subarray(0, numel) };
  // A strided view (e.g. a transpose): gather its elements in row-major order.
  const Ctor = span.constructor as new (n: number) => TensorData;
  const out = new Ctor(numel);
  const idx = new Array<number>(t.size.length).fill(0);
  for (let k = 0; k < numel; k++) {
    let src = 0;
    for (let d = 0; d < idx.length; d++) src += idx[d] * t.stride[d];
    (out as Float64Array)[k] = (span as Float64Array)[src];
    for (let d = idx.length - 1; d >= 0; d--) {
      if (++idx[d] < t.size[d]) break;
      idx[d] = 0;
    }
  }
  return { dtype: type.dtype, shape: [...t.size], data: out };
}

function kindOf(v: PickleValue): string {
  if (v === null) return 'None';
  if (v instanceof PickleTuple) return 'tuple';
  if (Array.isArray(v)) return 'list';
  if (v instanceof Uint8Array) return 'bytes';
  if (typeof v === 'object') return v instanceof Map ? 'dict' : (v as PickleObject).pickleKind;
  return typeof v;
}

function collect(root: PickleValue, storages: (ref: StorageRef) => Uint8Array, label: string): Map<string, TorchTensor> {
  if (!(root instanceof Map)) throw new Error(`${label}: expected a state dict (a dict of tensors), found a ${kindOf(root)}`);
  const out = new Map<string, TorchTensor>();
  for (const [k, v] of root) {
    if (typeof k !== 'string') throw new Error(`${label}: state dict key ${String(k)} is not a string`);
    if (!(v instanceof TensorRef)) throw new Error(`${label}: state dict entry ${k} is a ${kindOf(v)}, not a tensor (expected a plain state_dict, as torch.save(model.state_dict()) writes)`);
    out.set(k, materialize(k, v, storages, label));
  }
  return out;
}

function readZip(buf: Uint8Array, label: string): Map<string, TorchTensor> {
  const zip = new ZipArchive(buf, label);
  const pkl = [...zip.entries.keys()].find((n) => n.endsWith('/data.pkl') && n.split('/').length === 2);
  if (!pkl) throw new Error(`${label}: a zip archive but not a torch.save file: no <name>/data.pkl entry (entries: ${[...zip.entries.keys()].slice(0, 5).join(', ')}${zip.entries.size > 5 ? ', ...' : ''})`);
  const root = pkl.slice(0, -'data.pkl'.length);
  const byteorder = zip.entries.has(`${root}byteorder`) ? new TextDecoder().decode(zip.read(`${root}byteorder`)).trim() : 'little';
  if (byteorder !== 'little') throw new Error(`${label}: tensors are stored ${byteorder}-endian; only little-endian files are supported`);
  const refs = new Map<string, StorageRef>();
  const { value } = unpickle(zip.read(pkl), torchHooks(label, refs), `${label} (${pkl})`);
  return collect(
    value,
    (ref) => {
      const entry = `${root}data/${ref.key}`;
      if (!zip.entries.has(entry)) throw new Error(`${label}: storage file ${entry} is missing`);
      const bytes = zip.read(entry);
      if (bytes.length < ref.numel * ref.type.bytes) {
        throw new Error(`${label}: storage ${entry} is truncated: ${bytes.length} bytes, expected ${ref.numel} x ${ref.type.bytes} = ${ref.numel * ref.type.bytes} (${ref.type.name})`);
      }
      return bytes;
    },
    label,
  );
}

function readLegacy(buf: Uint8Array, label: string): Map<string, TorchTensor> {
  const refs = new Map<string, StorageRef>();
  const plain: PickleHooks = {
    ...torchHooks(label, refs),
    persistentLoad: () => {
      throw new Error(`${label}: unexpected persistent id in a legacy header pickle`);
    },
  };
  const magic = unpickle(buf, plain, label, 0);
  if (magic.value !== LEGACY_MAGIC) throw new Error(`${label}: neither a zip archive nor a legacy torch.save file (the first pickle is not torch's magic number)`);
  const version = unpickle(buf, plain, label, magic.end);
  if (version.value !== 1001) throw new Error(`${label}: legacy torch.save protocol ${String(version.value)}, expected 1001`);
  const sysInfo = unpickle(buf, plain, label, version.end);
  if (sysInfo.value instanceof Map && sysInfo.value.get('little_endian') === false) throw new Error(`${label}: saved on a big-endian machine; only little-endian files are supported`);
  const main = unpickle(buf, torchHooks(label, refs), label, sysInfo.end);
  const keys = unpickle(buf, plain, label, main.end);
  if (!Array.isArray(keys.value) || !keys.value.every((k) => typeof k === 'string')) throw new Error(`${label}: legacy storage key list is missing or malformed`);
  // Storages follow in the key list's order, each as an int64 element count and the elements.
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const data = new Map<string, Uint8Array>();
  let p = keys.end;
  for (const key of keys.value as string[]) {
    const ref = refs.get(key);
    if (!ref) throw new Error(`${label}: storage ${key} is listed but no tensor uses it`);
    if (p + 8 > buf.length) throw new Error(`${label}: truncated: storage ${key}'s header is missing at byte ${p}`);
    const n = Number(view.getBigInt64(p, true));
    const len = n * ref.type.bytes;
    p += 8;
    if (p + len > buf.length) throw new Error(`${label}: storage ${key} is truncated: expected ${len} bytes at byte ${p}, the file has ${buf.length - p}`);
    data.set(key, buf.subarray(p, p + len));
    p += len;
  }
  return collect(
    main.value,
    (ref) => {
      // Views carry their root storage's key (and their offset into it).
      const bytes = data.get(ref.key);
      if (!bytes) throw new Error(`${label}: storage ${ref.key} is not in the file's storage list`);
      return bytes;
    },
    label,
  );
}

/**
 * The tensors of a `torch.save(state_dict)` file (zip or legacy format). `label` names the file in
 * errors. Throws a message naming the file and what was expected for anything else.
 */
export function readStateDict(buf: Uint8Array, label: string): Map<string, TorchTensor> {
  if (endianness() !== 'LE') throw new Error('reading .pth files needs a little-endian machine');
  if (looksLikeZip(buf)) return readZip(buf, label);
  // Legacy files start with a protocol-2 pickle (0x80 0x02).
  if (buf.length >= 2 && buf[0] === 0x80) return readLegacy(buf, label);
  throw new Error(`${label}: not a PyTorch .pth file: expected a zip archive (torch.save since PyTorch 1.6) or a legacy pickle, found bytes ${[...buf.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0')).join(' ')}`);
}

/** The tensor's elements as float32 (converting from other float types; ints are refused). */
export function toFloat32(t: TorchTensor, name: string): Float32Array {
  if (t.data instanceof Float32Array) return t.data;
  if (t.data instanceof Float64Array) return Float32Array.from(t.data);
  throw new Error(`tensor ${name} has dtype ${t.dtype}, expected a floating-point tensor`);
}
