/**
 * The matcher's inner loop as a tiny WebAssembly module using 128-bit SIMD (four float32
 * lanes at a time): squared Euclidean distances from one query to every row. It is written
 * here as bytes (about 150) so no toolchain is needed; `createSimdKernel` returns null where
 * WebAssembly SIMD is unavailable and the matcher falls back to plain JavaScript.
 *
 * The function, in text form:
 *
 *   (func (export "distances") (param $v i32) (param $q i32) (param $rows i32)
 *                              (param $chunks i32) (param $out i32)
 *     (local $r i32) (local $k i32) (local $qp i32) (local $acc v128) (local $d v128)
 *     block loop                                   ;; for r in 0..rows
 *       (br_if 1 (i32.ge_u $r $rows))
 *       $acc = 0; $k = 0; $qp = $q
 *       block loop                                 ;; for k in 0..chunks (4 floats each)
 *         (br_if 1 (i32.ge_u $k $chunks))
 *         $d = v128.load($v) - v128.load($qp)      ;; f32x4.sub
 *         $acc = $acc + $d * $d                    ;; f32x4.mul, f32x4.add
 *         $v += 16; $qp += 16; $k += 1
 *       end end
 *       f32.store($out, lane0 + lane1 + lane2 + lane3)
 *       $out += 4; $r += 1
 *     end end)
 *
 * Rows are padded to a multiple of four floats with zeros (the distance is unchanged).
 */

/** The parts of the WebAssembly API used here (the TS lib in use has no DOM/wasm types). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
declare const WebAssembly: {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { readonly exports: Record<string, unknown> };
};

export interface DistanceKernel {
  readonly memory: WasmMemory;
  /** Byte offsets into `memory`; `chunks` = floats per row / 4. */
  distances(v: number, q: number, rows: number, chunks: number, out: number): void;
}

const I32 = 0x7f;
const V128 = 0x7b;
const op = {
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  end: [0x0b],
  br: (depth: number) => [0x0c, depth],
  brIf: (depth: number) => [0x0d, depth],
  get: (i: number) => [0x20, i],
  set: (i: number) => [0x21, i],
  tee: (i: number) => [0x22, i],
  i32: (n: number) => [0x41, ...sleb(n)],
  i32Add: [0x6a],
  i32GeU: [0x4f],
  f32Add: [0x92],
  f32Store: [0x38, 0x02, 0x00],
  v128Load: [0xfd, 0x00, 0x04, 0x00],
  v128Zero: [0xfd, 0x0c, ...new Array<number>(16).fill(0)],
  f32x4Lane: (lane: number) => [0xfd, 0x1f, lane],
  f32x4Add: [0xfd, 0xe4, 0x01],
  f32x4Sub: [0xfd, 0xe5, 0x01],
  f32x4Mul: [0xfd, 0xe6, 0x01],
};

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

const name = (s: string) => [...uleb(s.length), ...Array.from(Buffer.from(s, 'utf8'))];
const section = (id: number, content: number[]) => [id, ...uleb(content.length), ...content];

function moduleBytes(): Uint8Array {
  // params: 0 v, 1 q, 2 rows, 3 chunks, 4 out; locals: 5 r, 6 k, 7 qp, 8 acc, 9 d
  const [V, Q, ROWS, CHUNKS, OUT, R, K, QP, ACC, D] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  // prettier-ignore
  const body = [
    ...op.block,
    ...op.loop,
    ...op.get(R), ...op.get(ROWS), ...op.i32GeU, ...op.brIf(1),
    ...op.v128Zero, ...op.set(ACC),
    ...op.i32(0), ...op.set(K),
    ...op.get(Q), ...op.set(QP),
    ...op.block,
    ...op.loop,
    ...op.get(K), ...op.get(CHUNKS), ...op.i32GeU, ...op.brIf(1),
    ...op.get(V), ...op.v128Load, ...op.get(QP), ...op.v128Load, ...op.f32x4Sub, ...op.tee(D),
    ...op.get(D), ...op.f32x4Mul, ...op.get(ACC), ...op.f32x4Add, ...op.set(ACC),
    ...op.get(V), ...op.i32(16), ...op.i32Add, ...op.set(V),
    ...op.get(QP), ...op.i32(16), ...op.i32Add, ...op.set(QP),
    ...op.get(K), ...op.i32(1), ...op.i32Add, ...op.set(K),
    ...op.br(0),
    ...op.end,
    ...op.end,
    ...op.get(OUT),
    ...op.get(ACC), ...op.f32x4Lane(0),
    ...op.get(ACC), ...op.f32x4Lane(1), ...op.f32Add,
    ...op.get(ACC), ...op.f32x4Lane(2), ...op.f32Add,
    ...op.get(ACC), ...op.f32x4Lane(3), ...op.f32Add,
    ...op.f32Store,
    ...op.get(OUT), ...op.i32(4), ...op.i32Add, ...op.set(OUT),
    ...op.get(R), ...op.i32(1), ...op.i32Add, ...op.set(R),
    ...op.br(0),
    ...op.end,
    ...op.end,
    ...op.end, // function end
  ];
  const locals = [2, 3, I32, 2, V128];
  const func = [...locals, ...body];
  // prettier-ignore
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [1, 0x60, 5, I32, I32, I32, I32, I32, 0]),
    ...section(3, [1, 0]),
    ...section(5, [1, 0x00, 1]),
    ...section(7, [2, ...name('memory'), 0x02, 0, ...name('distances'), 0x00, 0]),
    ...section(10, [1, ...uleb(func.length), ...func]),
  ]);
}

/** Instantiates the SIMD kernel, or returns null when this runtime cannot run it. */
export function createSimdKernel(): DistanceKernel | null {
  try {
    const bytes = moduleBytes();
    if (!WebAssembly.validate(bytes)) return null;
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes));
    const exports = instance.exports as { memory: WasmMemory; distances: DistanceKernel['distances'] };
    return { memory: exports.memory, distances: exports.distances };
  } catch {
    return null;
  }
}
