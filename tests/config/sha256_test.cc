#include "config/sha256.h"

#include <fmt/core.h>
#include <gtest/gtest.h>

#include <string>

namespace flakebisect::config {
namespace {

// Bytes i*7 mod 256, i = 0..n-1: lengths around the 56- and 64-byte padding boundaries.
std::string pattern(size_t n) {
  std::string text;
  for (size_t i = 0; i < n; ++i) {
    text.push_back(static_cast<char>((i * 7) & 0xff));
  }
  return text;
}

std::string hex(const std::array<uint8_t, 32>& digest) {
  std::string text;
  for (const uint8_t byte : digest) {
    text += fmt::format("{:02x}", byte);
  }
  return text;
}

TEST(Sha256Test, MatchesTheFipsExampleVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(
      sha256_hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnop"
                 "qklmnopqrlmnopqrsmnopqrstnopqrstu"),
      "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256Test, MessagesAroundThePaddingBoundariesHashCorrectly) {
  // Expected values from Python's hashlib.
  EXPECT_EQ(sha256_hex(pattern(55)),
            "576a1bf8d4478657e6dc4af9398544765c2a92cde28478b019235cfed315fc09");
  EXPECT_EQ(sha256_hex(pattern(56)),
            "9b20501dfd1d99161c257950f3444f3e49230c351c5c8e0943ef369f85f5205d");
  EXPECT_EQ(sha256_hex(pattern(63)),
            "30b345906b493f06f69444b6521113511c242f30e29840462950035043682f1e");
  EXPECT_EQ(sha256_hex(pattern(64)),
            "d8bc63b4fc1156e5e7d95a418b9bf54cd3174bedbc2db40f74895349b229b3c0");
  EXPECT_EQ(sha256_hex(pattern(119)),
            "7a6589821178918ca8d9edaba5abfc1e9b2669564f4469b66885379c1530b2c8");
  EXPECT_EQ(sha256_hex(pattern(120)),
            "655250427d56b1b0eeb8497d21428704273458a01772d6881b65c0abac0f8a98");
}

TEST(Sha256Test, FeedingTheInputInPiecesGivesTheSameDigestAsAllAtOnce) {
  const std::string text = pattern(300);
  const std::string whole = sha256_hex(text);
  for (size_t piece : {1, 3, 63, 64, 65, 200}) {
    Sha256 hash;
    for (size_t at = 0; at < text.size(); at += piece) {
      hash.update(std::string_view(text).substr(at, piece));
    }
    EXPECT_EQ(hex(hash.digest()), whole) << "pieces of " << piece;
  }
}

}  // namespace
}  // namespace flakebisect::config
