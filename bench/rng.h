// Random numbers for the benchmark: counter-based, so every number is a pure function of its key.
//
// The simulator needs common random numbers across algorithms (the same culprit, and the same
// outcome for run k at commit x in trial t, whichever algorithm asks) and results that do not
// depend on the thread count or the platform. So nothing here keeps hidden state that depends on
// call order across trials: a value is hash(seed, keys...) mixed with splitmix64, and the
// distributions are written out from raw 64-bit draws (std::*_distribution output is
// implementation-defined). Only std::log, std::exp, std::sqrt and std::cos are used on top; glibc
// rounds them the same on every x86-64/aarch64 build we care about.
//
// Thread rules: pure functions and a value-type stream; no shared state.
#pragma once

#include <cmath>
#include <cstdint>
#include <initializer_list>

namespace flakebisect::bench {

// splitmix64's finaliser: a bijective 64-bit mixer with full avalanche.
inline uint64_t mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// Hash of an ordered list of keys; different orders or lengths give unrelated values.
inline uint64_t hash_keys(std::initializer_list<uint64_t> keys) {
  uint64_t h = 0x6A09E667F3BCC909ULL;
  for (uint64_t k : keys) h = mix64(h ^ mix64(k));
  return h;
}

// Uniform in [0, 1) with 53 random bits.
inline double to_unit(uint64_t bits) { return static_cast<double>(bits >> 11) * 0x1.0p-53; }

// Uniform in [0, 1) keyed by the given values.
inline double keyed_uniform(std::initializer_list<uint64_t> keys) {
  return to_unit(hash_keys(keys));
}

// A sequential stream for generating one object (a history, a fault set) from one seed. Draw i is
// mix64(seed + i * golden), i.e. splitmix64.
class RandomStream {
 public:
  explicit RandomStream(uint64_t seed) : state_(seed) {}

  uint64_t next() {
    state_ += 0x9E3779B97F4A7C15ULL;
    uint64_t x = state_;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
  }
  // Uniform in [0, 1).
  double uniform() { return to_unit(next()); }
  // Uniform in (0, 1]: safe to take the log of.
  double uniform_open_low() { return 1.0 - uniform(); }
  // Uniform integer in [0, bound), bound >= 1. Plain modulo: the bias is below bound / 2^64, far
  // under anything the benchmark can see.
  uint64_t below(uint64_t bound) { return next() % bound; }
  bool bernoulli(double p) { return uniform() < p; }
  // Geometric on {1, 2, ...} with the given mean (>= 1): P(L = k) = p (1-p)^(k-1), p = 1/mean.
  uint64_t geometric(double mean) {
    if (mean <= 1.0) return 1;
    const double p = 1.0 / mean;
    return 1 + static_cast<uint64_t>(std::floor(std::log(uniform_open_low()) / std::log1p(-p)));
  }
  // Standard normal by Box-Muller (one of the pair is discarded to keep the stream stateless).
  double normal() {
    const double r = std::sqrt(-2.0 * std::log(uniform_open_low()));
    return r * std::cos(6.283185307179586 * uniform());
  }

 private:
  uint64_t state_;
};

}  // namespace flakebisect::bench
