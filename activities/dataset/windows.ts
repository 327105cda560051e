/** Windows of one split range: start indices (into the point table), labels and fault-type masks. */
export interface WindowSet {
  starts: Int32Array;
  labels: Uint8Array;
  typeMask: Uint32Array;
}

/**
 * Sliding windows of `size` points every `stride` points, entirely inside [from, to) — a window
 * never straddles a split or phase boundary. Label rule 'any': anomalous if any point is;
 * 'last': the label of the last point. The fault-type mask follows the same rule.
 */
export function makeWindows(
  from: number,
  to: number,
  size: number,
  stride: number,
  isAnomaly: Uint8Array,
  typeMask: Uint32Array,
  rule: 'any' | 'last',
): WindowSet {
  const n = to - from >= size ? Math.floor((to - from - size) / stride) + 1 : 0;
  const starts = new Int32Array(n);
  const labels = new Uint8Array(n);
  const masks = new Uint32Array(n);
  if (rule === 'last') {
    for (let w = 0; w < n; w++) {
      const s = from + w * stride;
      starts[w] = s;
      labels[w] = isAnomaly[s + size - 1] as number;
      masks[w] = typeMask[s + size - 1] as number;
    }
    return { starts, labels, typeMask: masks };
  }
  // 'any': a running count of anomalous points, and an OR of the masks over the window.
  const prefix = new Int32Array(to - from + 1);
  for (let i = from; i < to; i++) prefix[i - from + 1] = (prefix[i - from] as number) + (isAnomaly[i] as number);
  for (let w = 0; w < n; w++) {
    const s = from + w * stride;
    starts[w] = s;
    const count = (prefix[s - from + size] as number) - (prefix[s - from] as number);
    labels[w] = count > 0 ? 1 : 0;
    if (count > 0) {
      let m = 0;
      for (let i = s; i < s + size; i++) m |= typeMask[i] as number;
      masks[w] = m;
    }
  }
  return { starts, labels, typeMask: masks };
}

export function concatWindows(a: WindowSet, b: WindowSet): WindowSet {
  const cat = <T extends Int32Array | Uint8Array | Uint32Array>(x: T, y: T, make: (n: number) => T): T => {
    const out = make(x.length + y.length);
    out.set(x);
    out.set(y, x.length);
    return out;
  };
  return {
    starts: cat(a.starts, b.starts, (n) => new Int32Array(n)),
    labels: cat(a.labels, b.labels, (n) => new Uint8Array(n)),
    typeMask: cat(a.typeMask, b.typeMask, (n) => new Uint32Array(n)),
  };
}
