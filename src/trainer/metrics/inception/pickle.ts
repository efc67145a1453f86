/**
 * The subset of Python's pickle virtual machine that `torch.save(state_dict)` produces (protocol
 * 2, PyTorch's default, plus the few protocol-4 opcodes a `pickle_protocol=4` save adds). Pickle
 * can call any Python function, so this reader never does: GLOBAL and REDUCE go through hooks
 * that the caller (pth.ts) restricts to an allow-list of torch and collections names. Anything
 * outside the subset fails with the opcode's name, its byte offset and the file.
 */

/** A Python tuple (kept apart from lists, which are JS arrays). */
export class PickleTuple {
  constructor(readonly items: readonly PickleValue[]) {}
}

/** An opaque object made by a hook (a storage type, a tensor reference, ...). */
export interface PickleObject {
  readonly pickleKind: string;
}

export type PickleValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PickleValue[]
  | PickleTuple
  | Map<PickleValue, PickleValue>
  | PickleObject;

export interface PickleHooks {
  /** GLOBAL / STACK_GLOBAL: the object named module.name; throws for names not allowed. */
  global(module: string, name: string): PickleValue;
  /** REDUCE: the result of calling `fn(*args)`. */
  reduce(fn: PickleValue, args: readonly PickleValue[]): PickleValue;
  /** BUILD: applies `state` to `obj` (`obj.__setstate__(state)`); returns the object. */
  build(obj: PickleValue, state: PickleValue): PickleValue;
  /** BINPERSID: the object a persistent id stands for (torch: a tensor storage). */
  persistentLoad(pid: PickleValue): PickleValue;
}

const OPCODE_NAMES: Record<number, string> = {
  0x28: 'MARK', 0x2e: 'STOP', 0x30: 'POP', 0x31: 'POP_MARK', 0x32: 'DUP', 0x46: 'FLOAT', 0x49: 'INT',
  0x4a: 'BININT', 0x4b: 'BININT1', 0x4c: 'LONG', 0x4d: 'BININT2', 0x4e: 'NONE', 0x50: 'PERSID',
  0x51: 'BINPERSID', 0x52: 'REDUCE', 0x53: 'STRING', 0x54: 'BINSTRING', 0x55: 'SHORT_BINSTRING',
  0x56: 'UNICODE', 0x58: 'BINUNICODE', 0x61: 'APPEND', 0x62: 'BUILD', 0x63: 'GLOBAL', 0x64: 'DICT',
  0x7d: 'EMPTY_DICT', 0x65: 'APPENDS', 0x67: 'GET', 0x68: 'BINGET', 0x69: 'INST', 0x6a: 'LONG_BINGET',
  0x6c: 'LIST', 0x5d: 'EMPTY_LIST', 0x6f: 'OBJ', 0x70: 'PUT', 0x71: 'BINPUT', 0x72: 'LONG_BINPUT',
  0x73: 'SETITEM', 0x74: 'TUPLE', 0x29: 'EMPTY_TUPLE', 0x75: 'SETITEMS', 0x47: 'BINFLOAT',
  0x80: 'PROTO', 0x81: 'NEWOBJ', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4', 0x85: 'TUPLE1', 0x86: 'TUPLE2',
  0x87: 'TUPLE3', 0x88: 'NEWTRUE', 0x89: 'NEWFALSE', 0x8a: 'LONG1', 0x8b: 'LONG4', 0x42: 'BINBYTES',
  0x43: 'SHORT_BINBYTES', 0x8c: 'SHORT_BINUNICODE', 0x8d: 'BINUNICODE8', 0x8e: 'BINBYTES8',
  0x8f: 'EMPTY_SET', 0x90: 'ADDITEMS', 0x91: 'FROZENSET', 0x92: 'NEWOBJ_EX', 0x93: 'STACK_GLOBAL',
  0x94: 'MEMOIZE', 0x95: 'FRAME', 0x96: 'BYTEARRAY8', 0x97: 'NEXT_BUFFER', 0x98: 'READONLY_BUFFER',
};

/** Marks the stack position of a MARK opcode. */
const MARK = Symbol('mark');
type StackItem = PickleValue | typeof MARK;

function describe(v: StackItem): string {
  if (v === MARK) return 'MARK';
  if (v === null) return 'None';
  if (Array.isArray(v)) return 'list';
  if (v instanceof PickleTuple) return 'tuple';
  if (v instanceof Map) return 'dict';
  if (v instanceof Uint8Array) return 'bytes';
  if (typeof v === 'object') return v.pickleKind;
  return typeof v;
}

export interface Unpickled {
  value: PickleValue;
  /** Offset just past the STOP opcode (legacy torch files put more data after it). */
  end: number;
}

/**
 * Runs the pickle in `buf` from `start` until STOP. `label` names the file (and entry) in errors.
 */
export function unpickle(buf: Uint8Array, hooks: PickleHooks, label: string, start = 0): Unpickled {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const stack: StackItem[] = [];
  const memo = new Map<number, PickleValue>();
  let p = start;
  let opAt = start;

  const fail = (what: string): never => {
    throw new Error(`${label}: pickle byte ${opAt}: ${what}`);
  };
  const need = (n: number): void => {
    if (p + n > buf.length) fail(`truncated: needs ${n} more bytes, the data ends at ${buf.length}`);
  };
  const u8 = (): number => {
    need(1);
    return buf[p++];
  };
  const u16 = (): number => {
    need(2);
    const v = view.getUint16(p, true);
    p += 2;
    return v;
  };
  const u32 = (): number => {
    need(4);
    const v = view.getUint32(p, true);
    p += 4;
    return v;
  };
  const u64 = (): number => {
    need(8);
    const v = view.getBigUint64(p, true);
    p += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`length ${v} is too large`);
    return Number(v);
  };
  const bytes = (n: number): Uint8Array => {
    need(n);
    const b = buf.subarray(p, p + n);
    p += n;
    return b;
  };
  const text = (n: number): string => {
    try {
      return utf8.decode(bytes(n));
    } catch {
      return fail('string is not valid UTF-8');
    }
  };
  const line = (): string => {
    const nl = buf.indexOf(0x0a, p);
    if (nl < 0) fail('truncated: a GLOBAL name has no newline');
    const s = new TextDecoder().decode(buf.subarray(p, nl));
    p = nl + 1;
    return s;
  };
  const pop = (): PickleValue => {
    if (stack.length === 0) fail('stack underflow');
    const v = stack.pop() as StackItem;
    if (v === MARK) fail('unexpected MARK on the stack');
    return v as PickleValue;
  };
  const top = (): PickleValue => {
    if (stack.length === 0) fail('stack underflow');
    const v = stack[stack.length - 1];
    if (v === MARK) fail('unexpected MARK on the stack');
    return v as PickleValue;
  };
  /** Pops everything above the last MARK, and the MARK. */
  const popMark = (): PickleValue[] => {
    let i = stack.length - 1;
    while (i >= 0 && stack[i] !== MARK) i--;
    if (i < 0) fail('no MARK on the stack');
    const items = stack.slice(i + 1) as PickleValue[];
    stack.length = i;
    return items;
  };
  const asDict = (v: PickleValue, op: string): Map<PickleValue, PickleValue> => {
    if (!(v instanceof Map)) fail(`${op} on a ${describe(v)}, expected a dict`);
    return v as Map<PickleValue, PickleValue>;
  };
  const asList = (v: PickleValue, op: string): PickleValue[] => {
    if (!Array.isArray(v)) fail(`${op} on a ${describe(v)}, expected a list`);
    return v as PickleValue[];
  };
  const memoGet = (i: number): PickleValue => {
    if (!memo.has(i)) fail(`memo entry ${i} was never stored`);
    return memo.get(i) as PickleValue;
  };

  for (;;) {
    opAt = p;
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) fail('pickle protocol above 5');
        break;
      case 0x95: // FRAME: a length prefix for buffering; the content follows inline.
        u64();
        break;
      case 0x2e: // STOP
        if (stack.length !== 1) fail(`STOP with ${stack.length} items on the stack, expected 1`);
        return { value: pop(), end: p };
      case 0x28: // MARK
        stack.push(MARK);
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push(new PickleTuple([]));
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4a: // BININT
        need(4);
        stack.push(view.getInt32(p, true));
        p += 4;
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: {
        // LONG1: little-endian two's complement of n bytes; a JS number when exact, else bigint.
        const n = u8();
        const b = bytes(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
        if (n > 0 && b[n - 1] & 0x80) v -= 1n << BigInt(8 * n);
        stack.push(v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
        break;
      }
      case 0x47: // BINFLOAT: big-endian IEEE double
        need(8);
        stack.push(view.getFloat64(p, false));
        p += 8;
        break;
      case 0x58: // BINUNICODE
        stack.push(text(u32()));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(text(u8()));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(text(u64()));
        break;
      case 0x42: // BINBYTES
        stack.push(bytes(u32()));
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(bytes(u8()));
        break;
      case 0x74: // TUPLE
        stack.push(new PickleTuple(popMark()));
        break;
      case 0x85: // TUPLE1
        stack.push(new PickleTuple([pop()]));
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        const a = pop();
        stack.push(new PickleTuple([a, b]));
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        const a = pop();
        stack.push(new PickleTuple([a, b, c]));
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        asDict(top(), 'SETITEM').set(k, v);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        if (items.length % 2 !== 0) fail('SETITEMS with an odd number of items');
        const d = asDict(top(), 'SETITEMS');
        for (let i = 0; i < items.length; i += 2) d.set(items[i], items[i + 1]);
        break;
      }
      case 0x61: {
        // APPEND
        const v = pop();
        asList(top(), 'APPEND').push(v);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        asList(top(), 'APPENDS').push(...items);
        break;
      }
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
        stack.push(memoGet(u8()));
        break;
      case 0x6a: // LONG_BINGET
        stack.push(memoGet(u32()));
        break;
      case 0x63: {
        // GLOBAL
        const module = line();
        const name = line();
        stack.push(hooks.global(module, name));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        stack.push(hooks.global(module as string, name as string));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        const fn = pop();
        if (!(args instanceof PickleTuple)) fail(`REDUCE arguments are a ${describe(args)}, expected a tuple`);
        stack.push(hooks.reduce(fn, (args as PickleTuple).items));
        break;
      }
      case 0x62: {
        // BUILD
        const state = pop();
        const obj = pop();
        stack.push(hooks.build(obj, state));
        break;
      }
      case 0x51: // BINPERSID
        stack.push(hooks.persistentLoad(pop()));
        break;
      default:
        fail(`unsupported pickle opcode 0x${op.toString(16).padStart(2, '0')} (${OPCODE_NAMES[op] ?? 'unknown'}); this reader handles the subset torch.save writes for state dicts`);
    }
  }
}
