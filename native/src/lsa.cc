#include "lsa.h"

#include <algorithm>
#include <limits>

namespace lsa {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Puts column j with reduced cost t into the sorted selection, moving up from slot p (the
// selection's free slot, or its largest entry, which t replaces).
void place(Arrays& s, int32_t p, double t, int32_t j) {
  while (p > 0 && s.selVal[p - 1] > t) {
    s.selVal[p] = s.selVal[p - 1];
    s.selCol[p] = s.selCol[p - 1];
    p--;
  }
  s.selVal[p] = t;
  s.selCol[p] = j;
}

double selStart(Arrays& s, int64_t base) {
  for (int32_t j = 0; j < s.k; j++) place(s, j, s.c[base + j] - s.v[j], j);
  return s.selVal[s.k - 1];
}

double selInsert(Arrays& s, double t, int32_t j) {
  place(s, s.k - 1, t, j);
  return s.selVal[s.k - 1];
}

void selEnd(Arrays& s, int32_t i, int64_t base) {
  const int32_t k = s.k;
  s.theta[i] = k == s.n ? kInf : s.selVal[k - 1];
  s.built[i] = 1;
  const int64_t cb = int64_t(i) * k;
  for (int32_t t = 0; t < k; t++) {
    const int32_t j = s.selCol[t];
    s.candCol[cb + t] = j;
    s.candC[cb + t] = s.c[base + j];
  }
}

void buildRow(Arrays& s, int32_t i) {
  const int32_t n = s.n;
  const int32_t k = s.k;
  const int64_t base = int64_t(i) * n;
  const double* row = s.c + base;
  const double* v = s.v;
  const int32_t seed = s.lastBuilt;
  if (seed < 0) {
    double top = selStart(s, base);
    for (int32_t j = k; j < n; j++) {
      const double t = row[j] - v[j];
      if (t < top) top = selInsert(s, t, j);
    }
  } else {
    const int64_t sb = int64_t(seed) * k;
    for (int32_t q = 0; q < k; q++) {
      const int32_t j = s.candCol[sb + q];
      s.seeded[j] = 1;
      place(s, q, row[j] - v[j], j);
    }
    double top = s.selVal[k - 1];
    for (int32_t j = 0; j < n; j++) {
      const double t = row[j] - v[j];
      if (t < top && s.seeded[j] == 0) top = selInsert(s, t, j);
    }
    for (int32_t q = 0; q < k; q++) s.seeded[s.candCol[sb + q]] = 0;
  }
  selEnd(s, i, base);
  s.lastBuilt = i;
}

}  // namespace

Result rowReduction(Arrays& s, int32_t nFree, double budget, double eps) {
  const int32_t k = s.k;
  double* v = s.v;
  int32_t current = 0;
  int32_t newFree = 0;
  double bids = 0;
  double rebuilt = 0;
  while (current < nFree) {
    const int32_t i = s.free[current++];
    bids++;
    if (s.built[i] == 0) buildRow(s, i);
    // The lists do not move inside a pass (only the JS side's resize() reallocates them).
    const int32_t* cc = s.candCol + int64_t(i) * k;
    const double* cv = s.candC + int64_t(i) * k;
    int32_t j1 = -1;
    double v1 = kInf;
    int32_t j2 = -1;
    double v2 = kInf;
    bool bounded = false;
    for (;;) {
      for (int32_t t = 0; t < k; t++) {
        const int32_t j = cc[t];
        const double h = cv[t] - v[j];
        if (h < v2) {
          if (h >= v1) {
            v2 = h;
            j2 = j;
          } else {
            v2 = v1;
            j2 = j1;
            v1 = h;
            j1 = j;
          }
        }
      }
      const double th = s.theta[i];
      if (v2 <= th) break;
      if (v1 < th) {
        v2 = th;
        bounded = true;
        break;
      }
      buildRow(s, i);
      rebuilt++;
      j1 = -1;
      v1 = kInf;
      j2 = -1;
      v2 = kInf;
    }
    int32_t i0 = s.y[j1];
    const double lowered = v[j1] - (v2 - v1) - eps;
    const bool lowers = lowered < v[j1];
    if (bids <= budget) {
      if (lowers) {
        v[j1] = lowered;
      } else if (i0 >= 0 && !bounded) {
        j1 = j2;
        i0 = s.y[j2];
      }
      if (i0 >= 0) {
        if (lowers) s.free[--current] = i0;
        else s.free[newFree++] = i0;
      }
    } else if (i0 >= 0) {
      s.free[newFree++] = i0;
    }
    s.x[i] = j1;
    s.y[j1] = i;
  }
  return {newFree, bids, rebuilt};
}

int32_t columnReductionTransfer(const double* c, int32_t n, double* v, const int32_t* argMin, int32_t* matches, int32_t* x, int32_t* y, int32_t* free) {
  for (int32_t j = n - 1; j >= 0; j--) {
    const int32_t i = argMin[j];
    if (matches[i]++ == 0) {
      x[i] = j;
      y[j] = i;
    }
  }
  int32_t nFree = 0;
  for (int32_t i = 0; i < n; i++) {
    if (matches[i] == 0) {
      free[nFree++] = i;
    } else if (matches[i] == 1) {
      const double* row = c + int64_t(i) * n;
      const int32_t j1 = x[i];
      double mu = kInf;
      for (int32_t j = 0; j < n; j++) {
        const double h = row[j] - v[j];
        if (h < mu && j != j1) mu = h;
      }
      const double own = row[j1] - v[j1];
      if (mu > own) v[j1] -= mu - own;
    }
  }
  return nFree;
}

double reduce(const double* c, int32_t n, double* v, int32_t* argMin) {
  double maxAbs = 0;
  for (int32_t j = 0; j < n; j++) v[j] = kInf;
  for (int32_t i = 0; i < n; i++) {
    const double* row = c + int64_t(i) * n;
    // Four independent minima / maxima (the order of a min does not change it), and finiteness
    // as t - t == 0 (NaN for an infinity or a NaN), so the loop needs no fast-math to be fast.
    double r[4] = {kInf, kInf, kInf, kInf};
    double mx[4] = {-kInf, -kInf, -kInf, -kInf};
    bool finite = true;
    int32_t j = 0;
    for (; j + 4 <= n; j += 4) {
      for (int q = 0; q < 4; q++) {
        const double t = row[j + q];
        r[q] = t < r[q] ? t : r[q];
        mx[q] = t > mx[q] ? t : mx[q];
        finite &= (t - t) == 0;
      }
    }
    for (; j < n; j++) {
      const double t = row[j];
      r[0] = t < r[0] ? t : r[0];
      mx[0] = t > mx[0] ? t : mx[0];
      finite &= (t - t) == 0;
    }
    if (!finite) return std::numeric_limits<double>::quiet_NaN();
    const double rmin = std::min(std::min(r[0], r[1]), std::min(r[2], r[3]));
    const double rmax = std::max(std::max(mx[0], mx[1]), std::max(mx[2], mx[3]));
    const double a = -rmin > rmax ? -rmin : rmax;
    if (a > maxAbs) maxAbs = a;
    for (int32_t q = 0; q < n; q++) {
      const double t = row[q] - rmin;
      if (t < v[q]) {
        v[q] = t;
        argMin[q] = i;
      }
    }
  }
  return maxAbs;
}

}  // namespace lsa
