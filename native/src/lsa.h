// The hot phase of the exact linear sum assignment (src/trainer/assignment/lsa.ts): augmenting
// row reduction over per-row candidate lists, with the lists built on demand. A line-for-line
// port of Solver.rowReduction and Solver.buildRow, on the JS solver's own arrays (shared, not
// copied), compiled without -ffast-math: the algorithm compares against infinities and relies on
// IEEE rounding for its exactness argument.
#pragma once
#include <cstdint>

namespace lsa {

struct Arrays {
  const double* c;  // n x n, row-major
  double* v;        // column duals
  int32_t* x;       // column of each row, -1 free
  int32_t* y;       // row of each column, -1 free
  uint8_t* built;   // row has a candidate list
  int32_t* candCol; // n x k
  double* candC;    // n x k
  double* theta;    // bound for the unlisted columns of each row
  uint8_t* seeded;  // n, all zero between selections
  double* selVal;   // k scratch
  int32_t* selCol;  // k scratch
  int32_t* free;    // free rows; the ones still free end at the front
  int32_t n;
  int32_t k;
  int32_t lastBuilt;  // in and out
};

struct Result {
  int32_t newFree;
  double bids;
  double rebuilt;
};

Result rowReduction(Arrays& s, int32_t nFree, double budget, double eps);

// Column reduction (each column offers itself to its minimising row; a row keeps the first offer,
// columns taken in reverse) and the reduction transfer of the rows given exactly one column, by
// full row reads (lsa.ts solveReduced with fullTransfer). Returns the number of free rows, listed
// in `free` in row order.
int32_t columnReductionTransfer(const double* c, int32_t n, double* v, const int32_t* argMin, int32_t* matches, int32_t* x, int32_t* y, int32_t* free);

// Row then column reduction (lsa.ts `reduce`): v[j] = min_i (c[i][j] - min_j' c[i][j']), argMin[j]
// its first row; returns max |c|, or NaN if an entry is not finite (the caller then names it).
double reduce(const double* c, int32_t n, double* v, int32_t* argMin);

}  // namespace lsa
