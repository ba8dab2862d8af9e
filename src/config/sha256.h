// SHA-256 (FIPS 180-4), self-contained, for content identities such as Config::hash().
//
// flakebisect has no crypto library dependency (libgit2 keeps its hashing private and OpenSSL's
// headers are not a build dependency), and identities only need a stable, collision-resistant
// digest, not speed. If more modules need it, this belongs in base/.
//
// Thread rules: a Sha256 object is not thread-safe; sha256_hex() is a pure function.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace flakebisect::config {

// Incremental hashing: update() any number of times, then digest() once.
class Sha256 {
 public:
  Sha256();

  void update(std::string_view data);
  // Finishes the hash and returns the 32-byte digest. The object must not be used afterwards.
  std::array<uint8_t, 32> digest();

 private:
  void compress(const uint8_t* block);

  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> buffer_{};
  size_t buffered_ = 0;  // bytes waiting in buffer_, always < 64
  uint64_t total_bytes_ = 0;
};

// The SHA-256 of `data` as 64 lowercase hex digits.
std::string sha256_hex(std::string_view data);

}  // namespace flakebisect::config
