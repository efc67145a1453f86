"""Times scipy.optimize.linear_sum_assignment for bench/bench-assign.ts.

One shot:  scipy_lsa.py FILE N REPEATS
    FILE holds an N x N little-endian float64 row-major cost matrix. Prints one JSON object:
    the scipy version, the median time (ms) of linear_sum_assignment on the raw cost (as the
    authors call it) and on the cost minus its column minima (timed without the subtraction),
    and the total raw cost of each result (math.fsum), so the caller can check optimality.
Server:    scipy_lsa.py --serve
    Reads commands on stdin, one per line, and answers each with one JSON line:
      load FILE N          -> {"version": ...}
      time raw|red COUNT   -> {"ms": [COUNT times], "total": fsum of the raw cost}
    so that the caller can interleave scipy's calls with its own and both see the same machine
    load (the benchmark machine is shared).
Exit code 3 with a one-line message when scipy cannot be imported.
"""
import json
import math
import sys
import time


def load(np, path, n):
    c = np.fromfile(path, dtype="<f8")
    if c.size != n * n:
        raise ValueError(f"{path} holds {c.size} values, expected {n * n}")
    c = np.ascontiguousarray(c.reshape(n, n))
    reduced = np.ascontiguousarray(c - c.min(axis=0, keepdims=True))
    return c, reduced


def timed(lsa, m, count):
    times = []
    cols = None
    for _ in range(count):
        t0 = time.perf_counter()
        _, cols = lsa(m)
        times.append((time.perf_counter() - t0) * 1e3)
    return times, cols


def main() -> int:
    try:
        import numpy as np
        import scipy
        from scipy.optimize import linear_sum_assignment
    except ImportError as e:
        print(f"scipy_lsa.py: cannot import scipy ({e}): apt-get install python3-scipy", file=sys.stderr)
        return 3

    if sys.argv[1:] == ["--serve"]:
        c = reduced = None
        for line in sys.stdin:
            words = line.split()
            if not words:
                continue
            if words[0] == "load":
                c, reduced = load(np, words[1], int(words[2]))
                print(json.dumps({"version": scipy.__version__}), flush=True)
            elif words[0] == "time":
                m = c if words[1] == "raw" else reduced
                times, cols = timed(linear_sum_assignment, m, int(words[2]))
                total = math.fsum(c[np.arange(c.shape[0]), cols].tolist())
                print(json.dumps({"ms": times, "total": total}), flush=True)
            else:
                print(json.dumps({"error": f"unknown command {words[0]}"}), flush=True)
        return 0

    path, n, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    try:
        c, reduced = load(np, path, n)
    except ValueError as e:
        print(f"scipy_lsa.py: {e}", file=sys.stderr)
        return 2
    rows = np.arange(n)
    out = {"version": scipy.__version__}
    for name, m in (("raw", c), ("reduced", reduced)):
        times, cols = timed(linear_sum_assignment, m, repeats)
        times.sort()
        out[f"{name}_ms"] = times[len(times) // 2]
        out[f"{name}_total"] = math.fsum(c[rows, cols].tolist())
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
