import { mulberry32 } from '../random';
/**
 * Isolation Forest (Liu, Ting & Zhou, ICDM 2008): trees grown on subsamples of ψ points by random
 * axis-parallel splits up to height ⌈log2 ψ⌉; anomaly score s(x) = 2^(−E[h(x)]/c(ψ)), where h(x) is the
 * path length plus c(size) at the leaf and c(n) = 2H(n−1) − 2(n−1)/n is the average unsuccessful-search
 * path length of a BST. Seeded, so a campaign's baseline is reproducible.
 */

export interface IsolationForestOptions {
  trees?: number;
  subsample?: number;
  seed?: number;
}

const EULER = 0.5772156649015329;

/** c(n): average path length of an unsuccessful BST search among n points. */
export function averagePathLength(n: number): number {
  if (n <= 1) return 0;
  if (n === 2) return 1;
  return 2 * (Math.log(n - 1) + EULER) - (2 * (n - 1)) / n;
}

interface Tree {
  /** split feature, or −1 for a leaf */
  feature: Int32Array;
  split: Float64Array;
  left: Int32Array;
  right: Int32Array;
  /** leaf size (for the c(size) correction) */
  size: Int32Array;
}

export class IsolationForest {
  private constructor(
    private readonly trees: Tree[],
    readonly dim: number,
    readonly subsample: number,
  ) {}

  /** Fits on `data`, row-major [n, dim]. */
  static fit(data: Float32Array | Float64Array, dim: number, opts: IsolationForestOptions = {}): IsolationForest {
    const n = data.length / dim;
    if (!Number.isInteger(n) || n < 2) throw new Error('IsolationForest needs at least 2 rows');
    const nTrees = opts.trees ?? 100;
    const psi = Math.min(opts.subsample ?? 256, n);
    const rand = mulberry32(opts.seed ?? 0);
    const heightLimit = Math.ceil(Math.log2(psi));
    const trees: Tree[] = [];
    const maxNodes = 2 * psi;
    for (let t = 0; t < nTrees; t++) {
      // Sample ψ distinct rows (partial Fisher–Yates over an index pool).
      const pool = new Int32Array(n);
      for (let i = 0; i < n; i++) pool[i] = i;
      for (let i = 0; i < psi; i++) {
        const j = i + Math.floor(rand() * (n - i));
        const tmp = pool[i]!;
        pool[i] = pool[j]!;
        pool[j] = tmp;
      }
      const rows = pool.slice(0, psi);
      const tree: Tree = {
        feature: new Int32Array(maxNodes).fill(-1),
        split: new Float64Array(maxNodes),
        left: new Int32Array(maxNodes),
        right: new Int32Array(maxNodes),
        size: new Int32Array(maxNodes),
      };
      let nodes = 0;
      const build = (lo: number, hi: number, depth: number): number => {
        const id = nodes++;
        const count = hi - lo;
        tree.size[id] = count;
        if (depth >= heightLimit || count <= 1) return id;
        // Random attribute; an attribute constant in this node cannot split it, so draw again (bounded).
        let feature = -1;
        let mn = 0;
        let mx = 0;
        for (let attempt = 0; attempt < Math.min(dim, 32) && feature < 0; attempt++) {
          const f = Math.floor(rand() * dim);
          mn = Number.POSITIVE_INFINITY;
          mx = Number.NEGATIVE_INFINITY;
          for (let k = lo; k < hi; k++) {
            const v = data[rows[k]! * dim + f]!;
            if (v < mn) mn = v;
            if (v > mx) mx = v;
          }
          if (mx > mn) feature = f;
        }
        if (feature < 0) return id;
        const p = mn + rand() * (mx - mn);
        // Partition rows[lo:hi) into < p and ≥ p.
        let i = lo;
        let j = hi - 1;
        while (i <= j) {
          if (data[rows[i]! * dim + feature]! < p) i++;
          else {
            const tmp = rows[i]!;
            rows[i] = rows[j]!;
            rows[j] = tmp;
            j--;
          }
        }
        tree.feature[id] = feature;
        tree.split[id] = p;
        tree.left[id] = build(lo, i, depth + 1);
        tree.right[id] = build(i, hi, depth + 1);
        return id;
      };
      build(0, psi, 0);
      trees.push(tree);
    }
    return new IsolationForest(trees, dim, psi);
  }

  /**
   * True when every tree is a single leaf: no feature varied in any subsample (flat training data),
   * so every input gets the same score and the forest cannot rank anything.
   */
  isTrivial(): boolean {
    return this.trees.every((t) => t.feature[0]! < 0);
  }

  /** Anomaly scores in (0, 1]; higher = more anomalous. */
  score(data: Float32Array | Float64Array): Float64Array {
    const n = data.length / this.dim;
    const out = new Float64Array(n);
    const cpsi = averagePathLength(this.subsample);
    for (let r = 0; r < n; r++) {
      const o = r * this.dim;
      let total = 0;
      for (const tree of this.trees) {
        let node = 0;
        let depth = 0;
        while (tree.feature[node]! >= 0) {
          node = data[o + tree.feature[node]!]! < tree.split[node]! ? tree.left[node]! : tree.right[node]!;
          depth++;
        }
        total += depth + averagePathLength(tree.size[node]!);
      }
      out[r] = Math.pow(2, -total / this.trees.length / cpsi);
    }
    return out;
  }
}
