// Wire-level value types that the generic XDR codec (codec.hpp) knows how to
// walk. Structs made of these, described with BOOST_DESCRIBE_STRUCT, are the
// protocol: no hand-written per-call encoders.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace splitvirt::xdr {

inline constexpr uint32_t kStringMax = 4194304;  // REMOTE_STRING_MAX

// Empty args/ret.
struct Void {};

// `T x<Max>`: variable array with a limit checked before anything is allocated.
template <class T, uint32_t Max>
struct Array : std::vector<T> {
  using std::vector<T>::vector;
  static constexpr uint32_t kMax = Max;
};

// `opaque x<Max>`.
template <uint32_t Max>
struct Opaque {
  std::string bytes;
  static constexpr uint32_t kMax = Max;
  bool operator==(const Opaque&) const = default;
};

// `string x<Max>` with a limit other than REMOTE_STRING_MAX.
template <uint32_t Max>
struct BoundedString {
  std::string value;
  static constexpr uint32_t kMax = Max;
  bool operator==(const BoundedString&) const = default;
};

// `char x<Max>`: every char travels as a 4-byte int (protocol.md 1.7).
template <uint32_t Max>
struct CharArray {
  std::string chars;
  static constexpr uint32_t kMax = Max;
};

// `char x[N]`: N 4-byte ints, NUL padded.
template <uint32_t N>
struct FixedChars {
  std::string chars;  // at most N, padded with NULs on the wire
  static constexpr uint32_t kN = N;
};

// `opaque x[16]`.
using Uuid = std::array<uint8_t, 16>;

// remote_typed_param_value: union switch (int type).
struct TypedParamBool {
  int32_t value = 0;
  bool operator==(const TypedParamBool&) const = default;
};
using TypedParamValue =
    std::variant<int32_t, uint32_t, int64_t, uint64_t, double, TypedParamBool, std::string>;
// Discriminants 1..7 in variant index order.

struct TypedParam {
  std::string field;
  TypedParamValue value;
};

}  // namespace splitvirt::xdr
