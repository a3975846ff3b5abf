// The direct AVX-512 float depthwise kernel of depthwise.h (depthwise_direct):
// square K x K kernels (K = 3 or 5), stride 1 or 2 along both axes, no
// dilation (the MobileNet / EfficientNet shapes). The input planes are read
// in place and the output rows written directly: no padded or phase copies.
//
// Every output is bias + its taps inside the input in (kh, kw) order, each
// added with one FMA; taps outside the input are skipped (masked FMA lanes,
// skipped rows), exactly as the reference skips them, so no 0 * w term
// appears. How the plane is tiled never changes that, so a plane's result
// depends on the geometry only (not on the thread split).
//
//   - rows: a tile is R output rows x 16 output columns. Each input row the
//     tile needs is loaded once (two vectors) and added to every output row
//     that uses it (up to K): stride 1 makes the K shifted taps with valignd,
//     stride 2 splits even / odd columns with vpermt2ps (3x3: the third tap
//     is the even columns shifted by one lane, valignd again).
//   - pairs (output rows of at most 8): two planes share each vector, lanes
//     0-7 for one and 8-15 for the other (vpermt2ps picks each tap's columns
//     from the two planes' rows), so short rows do not leave half of every
//     vector empty.
//
// Borders: inside tiles use plain loads, FMAs and stores. Edge tiles mask
// the FMAs and stores; their loads stay plain when all the cells they touch
// lie inside the input tensor (lanes from a neighbouring row or plane are
// masked out of the sums), and only the tiles at the very start or end of
// the tensor use masked loads (slower here than plain ones).
#include "runtime/kernels/fast/depthwise.h"

// GCC 12 warns about the deliberately undefined pass-through operand inside
// the AVX-512 intrinsics (a false positive).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <algorithm>
#include <vector>

namespace onnxq::runtime::fast {
namespace {

bool has_avx512f() {
  static const bool ok = __builtin_cpu_supports("avx512f");
  return ok;
}

// Lanes j of a 16-float vector whose input column c + step * j is in [0, W).
inline uint32_t lane_mask(int64_t c, int64_t W, int64_t step) {
  const int64_t lo = std::min<int64_t>(16, c >= 0 ? 0 : (-c + step - 1) / step);
  const int64_t hi = std::min<int64_t>(16, W - c <= 0 ? 0 : (W - c + step - 1) / step);
  return hi > lo ? (uint32_t{1} << hi) - (uint32_t{1} << lo) : 0;
}

// Pairs: two planes per vector when a plane's output row and the input
// columns it reads fit in 8 and 16 lanes.
bool pair_geometry(const DepthwiseGeometry& g) {
  return g.OW <= 8 && (g.OW - 1) * g.stride_w + g.KW - 1 <= 15;
}

// The call's fixed data: the input tensor's extent (what loads may touch)
// and the geometry.
struct Call {
  const DepthwiseGeometry& g;
  const float* x;  // the input tensor
  int64_t total;   // its floats
  const OutputClamp& clamp;
  // Whether [p + lo, p + hi) lies inside the input tensor.
  bool inside(const float* p, int64_t lo, int64_t hi) const {
    const int64_t o = p - x;
    return o + lo >= 0 && o + hi <= total;
  }
};

// OutputClamp in registers.
struct Clamp512 {
  bool on;
  __m512 lo, hi;
  __attribute__((target("avx512f"))) explicit Clamp512(const OutputClamp& c)
      : on(c.on), lo(_mm512_set1_ps(c.lo)), hi(_mm512_set1_ps(c.hi)) {}
  // max(lo, NaN) and min(hi, NaN) return the NaN: it propagates like the
  // reference activations'.
  __attribute__((target("avx512f"), always_inline)) __m512 operator()(__m512 a) const {
    return on ? _mm512_min_ps(hi, _mm512_max_ps(lo, a)) : a;
  }
};

// ---------------------------------------------------------------- rows

// Masks of one 16-column output block (the same for every row and plane).
template <int K>
struct ColumnMasks {
  static constexpr int P = (K + 1) / 2;  // stride 2: column pairs loaded per input row
  __mmask16 tap[K];                      // lanes whose tap kw is inside the row
  __mmask16 lo[P], hi[P];                // the two loads of pair p (stride 1: p = 0)
  __mmask16 next;                        // 3x3 stride 2: column c0 + 32 in lane 0
  __mmask16 store;                       // lanes inside the output row
  bool inside;                           // every tap and output lane is inside
};

template <int K, int S>
std::vector<ColumnMasks<K>> column_masks(const DepthwiseGeometry& g) {
  std::vector<ColumnMasks<K>> v;
  for (int64_t ow0 = 0; ow0 < g.OW; ow0 += 16) {
    ColumnMasks<K> m{};
    const int64_t c0 = ow0 * S - g.pad_left;
    for (int kw = 0; kw < K; ++kw) m.tap[kw] = static_cast<__mmask16>(lane_mask(c0 + kw, g.W, S));
    for (int p = 0; p < ColumnMasks<K>::P; ++p) {
      m.lo[p] = static_cast<__mmask16>(lane_mask(c0 + 2 * p, g.W, 1));
      m.hi[p] = static_cast<__mmask16>(lane_mask(c0 + 2 * p + 16, g.W, 1));
    }
    m.next = static_cast<__mmask16>(lane_mask(c0 + 32, g.W, 1) & 1);
    m.store = static_cast<__mmask16>(lane_mask(ow0, g.OW, 1));
    m.inside = m.store == 0xFFFF;
    for (int kw = 0; kw < K; ++kw) m.inside = m.inside && m.tap[kw] == 0xFFFF;
    v.push_back(m);
  }
  return v;
}

enum class Tile { Inside, Edge, EdgeMaskedLoads };

template <bool MASKED>
__attribute__((target("avx512f"), always_inline)) inline __m512 load(__mmask16 m, const float* p) {
  return MASKED ? _mm512_maskz_loadu_ps(m, p) : _mm512_loadu_ps(p);
}

// Floats each input row's loads span from column c0 (stride 1: two
// vectors; 3x3 stride 2: two vectors and one float; 5x5 stride 2: pairs at
// c0, c0 + 2 and c0 + 4).
template <int K, int S>
constexpr int64_t kSpan = S == 1 ? 32 : K == 3 ? 33 : 2 * (ColumnMasks<K>::P - 1) + 32;

// R output rows from input row ih0 = oh0 * S - pad_top, 16 output columns
// from input column c0 = ow0 * S - pad_left, stored at y (row stride OW).
template <int K, int S, int R, Tile T>
__attribute__((target("avx512f"), always_inline)) inline void row_tile(
    const float* xp, int64_t H, int64_t W, int64_t ih0, int64_t c0, const ColumnMasks<K>& cm,
    const __m512* wv, __m512 bias, float* y, int64_t OW, const Clamp512& clamp) {
  constexpr int P = ColumnMasks<K>::P;
  constexpr bool edge = T != Tile::Inside, masked_loads = T == Tile::EdgeMaskedLoads;
  __mmask16 km[K];
#pragma GCC unroll 8
  for (int kw = 0; kw < K; ++kw) km[kw] = cm.tap[kw];
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  __m512 acc[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) acc[r] = bias;
#pragma GCC unroll 32
  for (int i = 0; i < (R - 1) * S + K; ++i) {
    const int64_t ih = ih0 + i;
    if (edge && (ih < 0 || ih >= H)) continue;
    const float* row = xp + ih * W + c0;
    __m512 v[K];
    if constexpr (S == 1) {
      // Columns c0 .. c0 + 31 in two loads; tap kw is lanes kw .. kw + 15.
      const __m512i a = _mm512_castps_si512(load<masked_loads>(cm.lo[0], row));
      const __m512i b = _mm512_castps_si512(load<masked_loads>(cm.hi[0], row + 16));
      v[0] = _mm512_castsi512_ps(a);
      v[1] = _mm512_castsi512_ps(_mm512_alignr_epi32(b, a, 1));
      v[2] = _mm512_castsi512_ps(_mm512_alignr_epi32(b, a, 2));
      if constexpr (K == 5) {
        v[3] = _mm512_castsi512_ps(_mm512_alignr_epi32(b, a, 3));
        v[4] = _mm512_castsi512_ps(_mm512_alignr_epi32(b, a, 4));
      }
    } else if constexpr (K == 3) {
      // Columns c0 .. c0 + 31 split into even (tap 0) and odd (tap 1)
      // columns; tap 2 is the even ones shifted by one, column c0 + 32 last.
      const __m512 a = load<masked_loads>(cm.lo[0], row), b = load<masked_loads>(cm.hi[0], row + 16);
      const __m512 e = _mm512_permutex2var_ps(a, even, b);
      const __m512 next =
          masked_loads ? _mm512_maskz_loadu_ps(cm.next, row + 32) : _mm512_set1_ps(row[32]);
      v[0] = e;
      v[1] = _mm512_permutex2var_ps(a, odd, b);
      v[2] = _mm512_castsi512_ps(
          _mm512_alignr_epi32(_mm512_castps_si512(next), _mm512_castps_si512(e), 1));
    } else {
#pragma GCC unroll 8
      for (int p = 0; p < P; ++p) {
        const __m512 a = load<masked_loads>(cm.lo[p], row + 2 * p);
        const __m512 b = load<masked_loads>(cm.hi[p], row + 2 * p + 16);
        v[2 * p] = _mm512_permutex2var_ps(a, even, b);
        if (2 * p + 1 < K) v[2 * p + 1] = _mm512_permutex2var_ps(a, odd, b);
      }
    }
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const int kh = i - r * S;
      if (kh < 0 || kh >= K) continue;
#pragma GCC unroll 8
      for (int kw = 0; kw < K; ++kw)
        acc[r] = edge ? _mm512_mask3_fmadd_ps(wv[kh * K + kw], v[kw], acc[r], km[kw])
                      : _mm512_fmadd_ps(wv[kh * K + kw], v[kw], acc[r]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    if (edge)
      _mm512_mask_storeu_ps(y + r * OW, cm.store, clamp(acc[r]));
    else
      _mm512_storeu_ps(y + r * OW, clamp(acc[r]));
  }
}

// The rare tile whose loads would leave the input tensor: masked loads.
template <int K, int S, int R>
__attribute__((target("avx512f"), noinline)) void row_tile_masked_loads(
    const float* xp, int64_t H, int64_t W, int64_t ih0, int64_t c0, const ColumnMasks<K>& cm,
    const __m512* wv, __m512 bias, float* y, int64_t OW, const Clamp512& clamp) {
  row_tile<K, S, R, Tile::EdgeMaskedLoads>(xp, H, W, ih0, c0, cm, wv, bias, y, OW, clamp);
}

// Wide planes (rows of at least kPrefetchWidth floats): software prefetch
// of the input rows the group kPrefetchGroups ahead adds (measured: the
// hardware prefetchers miss this pattern of many rows read a few lines at a
// time; on smaller planes they keep up and the prefetches only cost).
constexpr int64_t kPrefetchGroups = 2, kPrefetchWidth = 64;
constexpr int64_t kOutPrefetchGroups = 1;

// Output rows [oh0, oh0 + r) of one plane for r <= R, all column blocks.
template <int K, int S, int R, bool PREFETCH>
__attribute__((target("avx512f,prfchw"))) void row_group(int64_t r, const Call& c, const float* xp,
                                                  int64_t oh0, const ColumnMasks<K>* cm,
                                                  const float* w, float bias, float* yp) {
  if constexpr (R > 1) {
    if (r < R) return row_group<K, S, R - 1, PREFETCH>(r, c, xp, oh0, cm, w, bias, yp);
  }
  const DepthwiseGeometry& g = c.g;
  __m512 wv[K * K];
#pragma GCC unroll 25
  for (int t = 0; t < K * K; ++t) wv[t] = _mm512_set1_ps(w[t]);
  const __m512 bv = _mm512_set1_ps(bias);
  const Clamp512 clamp(c.clamp);
  const int64_t H = g.H, W = g.W, OW = g.OW;
  const int64_t ih0 = oh0 * S - g.pad_top, rows = (R - 1) * S + K;
  const bool rows_inside = ih0 >= 0 && ih0 + rows <= H;
  // The first and one past the last float the tile's loads touch, from c0.
  const int64_t first = std::max<int64_t>(ih0, 0) * W;
  const int64_t last = (std::min(ih0 + rows, H) - 1) * W + kSpan<K, S>;
  // Prefetches, spread over the column blocks: the input rows the group
  // kPrefetchGroups ahead adds (past the plane's end, the next plane's
  // first rows), and for writing (prefetchw) the output rows of the group
  // kOutPrefetchGroups ahead: a buffer the pool hands out cold would
  // otherwise stall the stores on every line.
  const int64_t blocks = (OW + 15) / 16;
  const char* pr =
      reinterpret_cast<const char*>(xp + (ih0 + rows + (kPrefetchGroups - 1) * R * S) * W);
  const int64_t r_lines = PREFETCH ? (R * S * W * 4 + 63) / 64 : 0;
  const int64_t r_step = (r_lines + blocks - 1) / blocks;
  char* pw = reinterpret_cast<char*>(yp + (oh0 + kOutPrefetchGroups * R) * OW);
  const int64_t w_lines = (R * OW * 4 + 63) / 64, w_step = (w_lines + blocks - 1) / blocks;
  for (int64_t b = 0, ow0 = 0; ow0 < OW; ++b, ow0 += 16) {
    if (PREFETCH)
      for (int64_t l = b * r_step; l < std::min(r_lines, (b + 1) * r_step); ++l)
        _mm_prefetch(pr + 64 * l, _MM_HINT_T0);
    for (int64_t l = b * w_step; l < std::min(w_lines, (b + 1) * w_step); ++l)
      __builtin_prefetch(pw + 64 * l, 1, 3);
    const int64_t c0 = ow0 * S - g.pad_left;
    float* y = yp + oh0 * OW + ow0;
    if (!c.inside(xp, first + c0, last + c0))
      row_tile_masked_loads<K, S, R>(xp, H, W, ih0, c0, cm[b], wv, bv, y, OW, clamp);
    else if (rows_inside && cm[b].inside)
      row_tile<K, S, R, Tile::Inside>(xp, H, W, ih0, c0, cm[b], wv, bv, y, OW, clamp);
    else
      row_tile<K, S, R, Tile::Edge>(xp, H, W, ih0, c0, cm[b], wv, bv, y, OW, clamp);
  }
}

// Output rows in groups of at most this many, as even as possible (14 rows:
// 7 + 7), so that each tile has several independent sums in flight.
template <int K>
constexpr int64_t kMaxRows = K == 3 ? 8 : 4;

inline int64_t group_rows(int64_t rows_left, int64_t groups_left) {
  return (rows_left + groups_left - 1) / groups_left;
}

template <int K, int S>
void plane_rows(const Call& c, const ColumnMasks<K>* cm, const float* xp, const float* w,
                float bias, float* yp) {
  const int64_t OH = c.g.OH, groups = (OH + kMaxRows<K> - 1) / kMaxRows<K>;
  for (int64_t t = 0, oh0 = 0; t < groups; ++t) {
    const int64_t r = group_rows(OH - oh0, groups - t);
    if (c.g.W >= kPrefetchWidth)
      row_group<K, S, kMaxRows<K>, true>(r, c, xp, oh0, cm, w, bias, yp);
    else
      row_group<K, S, kMaxRows<K>, false>(r, c, xp, oh0, cm, w, bias, yp);
    oh0 += r;
  }
}

// ---------------------------------------------------------------- pairs

// Tap kw of a pair: lane j reads column c0 + (j % 8) * S + kw of plane A
// (j < 8) or B (j >= 8), from the 16 columns loaded from c0 of each.
template <int K>
struct PairMasks {
  __m512i idx[K];
  __mmask16 tap[K];  // lanes of an output column whose tap kw is inside the row
  __mmask16 load;    // loaded lanes inside the row
  __mmask16 store;   // plane A's output columns (B's: shifted by 8)
};

template <int K, int S>
__attribute__((target("avx512f"))) PairMasks<K> pair_masks(const DepthwiseGeometry& g) {
  PairMasks<K> m{};
  const int64_t c0 = -g.pad_left;
  for (int kw = 0; kw < K; ++kw) {
    alignas(64) int32_t idx[16];
    uint32_t tap = 0;
    for (int j = 0; j < 16; ++j) {
      const int64_t ow = j % 8, col = c0 + ow * S + kw;
      idx[j] = static_cast<int32_t>(((j < 8 ? 0 : 16) + ow * S + kw) & 31);
      if (ow < g.OW && col >= 0 && col < g.W) tap |= 1u << j;
    }
    m.idx[kw] = _mm512_load_si512(idx);
    m.tap[kw] = static_cast<__mmask16>(tap);
  }
  m.load = static_cast<__mmask16>(lane_mask(c0, g.W, 1));
  m.store = static_cast<__mmask16>((1u << g.OW) - 1);
  return m;
}

// Output rows [oh0, oh0 + r) for r <= R of planes A and B (B may be A).
template <int K, int S, int R, bool ROTATE>
__attribute__((target("avx512f"))) void pair_group(int64_t r, const Call& c,
                                                   const PairMasks<K>& pm, int64_t oh0,
                                                   const float* xa, const float* xb,
                                                   const __m512* wv, __m512 bv, float* ya,
                                                   float* yb) {
  if constexpr (R > 1) {
    if (r < R) return pair_group<K, S, R - 1, ROTATE>(r, c, pm, oh0, xa, xb, wv, bv, ya, yb);
  }
  const DepthwiseGeometry& g = c.g;
  const int64_t ih0 = oh0 * S - g.pad_top, rows = (R - 1) * S + K, c0 = -g.pad_left;
  const int64_t first = std::max<int64_t>(ih0, 0) * g.W + c0;
  const int64_t last = (std::min(ih0 + rows, g.H) - 1) * g.W + c0 + 16;
  const bool plain = c.inside(xa, first, last) && c.inside(xb, first, last);
  __mmask16 km[K];
#pragma GCC unroll 8
  for (int kw = 0; kw < K; ++kw) km[kw] = pm.tap[kw];
  __m512 acc[R];
#pragma GCC unroll 8
  for (int q = 0; q < R; ++q) acc[q] = bv;
#pragma GCC unroll 32
  for (int i = 0; i < rows; ++i) {
    const int64_t ih = ih0 + i;
    if (ih < 0 || ih >= g.H) continue;
    const int64_t o = ih * g.W + c0;
    const __m512 a = plain ? _mm512_loadu_ps(xa + o) : _mm512_maskz_loadu_ps(pm.load, xa + o);
    const __m512 b = plain ? _mm512_loadu_ps(xb + o) : _mm512_maskz_loadu_ps(pm.load, xb + o);
    __m512 v[K];
#pragma GCC unroll 8
    for (int kw = 0; kw < K; ++kw) {
      if (ROTATE && kw >= 2)  // stride 2: tap kw - 2 moved by one column
        v[kw] = _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(v[kw - 2]),
                                                        _mm512_castps_si512(v[kw - 2]), 1));
      else
        v[kw] = _mm512_permutex2var_ps(a, pm.idx[kw], b);
    }
#pragma GCC unroll 8
    for (int q = 0; q < R; ++q) {
      const int kh = i - q * S;
      if (kh < 0 || kh >= K) continue;
#pragma GCC unroll 8
      for (int kw = 0; kw < K; ++kw)
        acc[q] = _mm512_mask3_fmadd_ps(wv[kh * K + kw], v[kw], acc[q], km[kw]);
    }
  }
  const __mmask16 sa = pm.store, sb = static_cast<__mmask16>(pm.store << 8);
  const Clamp512 clamp(c.clamp);
#pragma GCC unroll 8
  for (int q = 0; q < R; ++q) {
    const __m512 out = clamp(acc[q]);
    _mm512_mask_storeu_ps(ya + (oh0 + q) * g.OW, sa, out);
    if (yb != ya) _mm512_mask_storeu_ps(yb + (oh0 + q) * g.OW - 8, sb, out);
  }
}

template <int K, int S>
__attribute__((target("avx512f,prfchw"))) void plane_pair(const Call& c, const PairMasks<K>& pm,
                                                          const float* xa, const float* xb,
                                                          const float* wa, const float* wb,
                                                          float ba, float bb, float* ya,
                                                          float* yb) {
  // For writing: the next pair's output planes (which follow B's).
  const int64_t OHW = c.g.OH * c.g.OW;
  char* pw = reinterpret_cast<char*>(yb + OHW);
  for (int64_t l = 0; l < (2 * OHW * 4 + 63) / 64; ++l) __builtin_prefetch(pw + 64 * l, 1, 3);
  __m512 wv[K * K];
#pragma GCC unroll 25
  for (int t = 0; t < K * K; ++t)
    wv[t] = _mm512_mask_broadcastss_ps(_mm512_set1_ps(wa[t]), 0xFF00, _mm_set_ss(wb[t]));
  const __m512 bv = _mm512_mask_broadcastss_ps(_mm512_set1_ps(ba), 0xFF00, _mm_set_ss(bb));
  const int64_t OH = c.g.OH, groups = (OH + kMaxRows<K> - 1) / kMaxRows<K>;
  for (int64_t t = 0, oh0 = 0; t < groups; ++t) {
    const int64_t r = group_rows(OH - oh0, groups - t);
    // Stride 2: taps 2.. are taps 0.. rotated by one lane (valignd, cheaper
    // than vpermt2ps); pair_geometry leaves room for it in each half
    // ((OW - 1) * 2 + K - 1 <= 15 gives OW + (K - 1) / 2 <= 8).
    pair_group<K, S, kMaxRows<K>, S == 2>(r, c, pm, oh0, xa, xb, wv, bv, ya, yb);
    oh0 += r;
  }
}

// ---------------------------------------------------------------- planes

// Output planes o in [begin * mult, end * mult) (o = n * M + m reads input
// plane o / mult and weights m = o % M).
template <int K, int S>
void direct_planes(const Call& c, const float* w, const float* bias, float* y, int64_t begin,
                   int64_t end) {
  const DepthwiseGeometry& g = c.g;
  const int64_t mult = g.M / g.C, HW = g.H * g.W, OHW = g.OH * g.OW;
  auto plane = [&](int64_t o) { return c.x + o / mult * HW; };
  auto weights = [&](int64_t o) { return w + o % g.M * K * K; };
  auto bias_of = [&](int64_t o) { return bias ? bias[o % g.M] : 0.0f; };
  if (pair_geometry(g)) {
    const PairMasks<K> pm = pair_masks<K, S>(g);
    for (int64_t o = begin * mult; o < end * mult; o += 2) {
      const int64_t ob = std::min(o + 1, end * mult - 1);  // B = A for a last odd plane
      plane_pair<K, S>(c, pm, plane(o), plane(ob), weights(o), weights(ob), bias_of(o),
                       bias_of(ob), y + o * OHW, y + ob * OHW);
    }
    return;
  }
  const std::vector<ColumnMasks<K>> cm = column_masks<K, S>(g);
  for (int64_t o = begin * mult; o < end * mult; ++o)
    plane_rows<K, S>(c, cm.data(), plane(o), weights(o), bias_of(o), y + o * OHW);
}

}  // namespace

bool depthwise_direct(const DepthwiseGeometry& g) {
  return has_avx512f() && g.KH == g.KW && (g.KH == 3 || g.KH == 5) &&
         g.stride_h == g.stride_w && (g.stride_h == 1 || g.stride_h == 2) && g.dil_h == 1 &&
         g.dil_w == 1 && g.M % g.C == 0;
}

void depthwise_direct_nchw(const DepthwiseGeometry& g, const float* x, const float* w,
                           const float* bias, float* y, int64_t begin, int64_t end,
                           const OutputClamp& clamp) {
  const Call c{g, x, g.N * g.C * g.H * g.W, clamp};
  const int64_t K = g.KH, S = g.stride_h;
  if (K == 3 && S == 1) return direct_planes<3, 1>(c, w, bias, y, begin, end);
  if (K == 3 && S == 2) return direct_planes<3, 2>(c, w, bias, y, begin, end);
  if (K == 5 && S == 1) return direct_planes<5, 1>(c, w, bias, y, begin, end);
  direct_planes<5, 2>(c, w, bias, y, begin, end);
}

}  // namespace onnxq::runtime::fast
