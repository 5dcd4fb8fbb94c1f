// One generic XDR encoder/decoder. It walks structs described with
// BOOST_DESCRIBE_STRUCT and the value types of types.hpp; the protocol is
// declared as data and this is the only code that turns it into bytes.
#pragma once

#include "xdr/buffer.hpp"
#include "xdr/types.hpp"

#include <boost/describe/members.hpp>
#include <boost/mp11/algorithm.hpp>

#include <type_traits>

namespace splitvirt::xdr {

template <class T> struct IsArray : std::false_type {};
template <class T, uint32_t M> struct IsArray<Array<T, M>> : std::true_type {};
template <class T> struct IsOpaque : std::false_type {};
template <uint32_t M> struct IsOpaque<Opaque<M>> : std::true_type {};
template <class T> struct IsBoundedString : std::false_type {};
template <uint32_t M> struct IsBoundedString<BoundedString<M>> : std::true_type {};
template <class T> struct IsCharArray : std::false_type {};
template <uint32_t M> struct IsCharArray<CharArray<M>> : std::true_type {};
template <class T> struct IsFixedChars : std::false_type {};
template <uint32_t N> struct IsFixedChars<FixedChars<N>> : std::true_type {};
template <class T> struct IsOptional : std::false_type {};
template <class T> struct IsOptional<std::optional<T>> : std::true_type {};
template <class T> struct IsStdArray : std::false_type {};
template <class T, size_t N> struct IsStdArray<std::array<T, N>> : std::true_type {};

template <class T> void encode(Writer& w, const T& v);
template <class T> bool decode(Reader& r, T& v);

void encodeTypedParamValue(Writer& w, const TypedParamValue& v);
bool decodeTypedParamValue(Reader& r, TypedParamValue& v);

inline void encodeString(Writer& w, const std::string& s) {
  w.u32(static_cast<uint32_t>(s.size()));
  w.bytes(s.data(), s.size());
  w.pad(s.size());
}
inline bool decodeString(Reader& r, std::string& s, uint32_t max) {
  uint32_t n;
  if (!r.u32(n) || n > max) return false;
  return r.bytes(s, n);
}

template <class T>
void encode(Writer& w, const T& v) {
  if constexpr (std::is_same_v<T, Void>) {
  } else if constexpr (std::is_same_v<T, bool>) {
    w.i32(v ? 1 : 0);
  } else if constexpr (std::is_same_v<T, int32_t>) {
    w.i32(v);
  } else if constexpr (std::is_same_v<T, uint32_t>) {
    w.u32(v);
  } else if constexpr (std::is_same_v<T, int64_t>) {
    w.u64(static_cast<uint64_t>(v));
  } else if constexpr (std::is_same_v<T, uint64_t>) {
    w.u64(v);
  } else if constexpr (std::is_same_v<T, double>) {
    uint64_t bits;
    std::memcpy(&bits, &v, 8);
    w.u64(bits);
  } else if constexpr (std::is_same_v<T, std::string>) {
    encodeString(w, v);
  } else if constexpr (IsBoundedString<T>::value) {
    encodeString(w, v.value);
  } else if constexpr (IsOpaque<T>::value) {
    encodeString(w, v.bytes);
  } else if constexpr (IsCharArray<T>::value) {
    w.u32(static_cast<uint32_t>(v.chars.size()));
    for (char c : v.chars) w.i32(static_cast<signed char>(c));
  } else if constexpr (IsFixedChars<T>::value) {
    for (uint32_t i = 0; i < T::kN; ++i)
      w.i32(i < v.chars.size() ? static_cast<signed char>(v.chars[i]) : 0);
  } else if constexpr (std::is_same_v<T, Uuid>) {
    w.bytes(v.data(), v.size());
  } else if constexpr (IsStdArray<T>::value) {
    for (const auto& e : v) encode(w, e);
  } else if constexpr (IsOptional<T>::value) {
    w.u32(v ? 1 : 0);
    if (v) encode(w, *v);
  } else if constexpr (IsArray<T>::value) {
    w.u32(static_cast<uint32_t>(v.size()));
    for (const auto& e : v) encode(w, e);
  } else if constexpr (std::is_same_v<T, TypedParamValue>) {
    encodeTypedParamValue(w, v);
  } else if constexpr (std::is_same_v<T, TypedParam>) {
    encodeString(w, v.field);
    encodeTypedParamValue(w, v.value);
  } else if constexpr (std::is_enum_v<T>) {
    w.i32(static_cast<int32_t>(v));
  } else {
    static_assert(boost::describe::has_describe_members<T>::value, "XDR type must be described");
    using Ms = boost::describe::describe_members<T, boost::describe::mod_public>;
    boost::mp11::mp_for_each<Ms>([&](auto D) { encode(w, v.*D.pointer); });
  }
}

template <class T>
bool decode(Reader& r, T& v) {
  if constexpr (std::is_same_v<T, Void>) {
    return true;
  } else if constexpr (std::is_same_v<T, bool>) {
    int32_t i;
    if (!r.i32(i)) return false;
    v = i != 0;
    return true;
  } else if constexpr (std::is_same_v<T, int32_t>) {
    return r.i32(v);
  } else if constexpr (std::is_same_v<T, uint32_t>) {
    return r.u32(v);
  } else if constexpr (std::is_same_v<T, int64_t>) {
    uint64_t u;
    if (!r.u64(u)) return false;
    v = static_cast<int64_t>(u);
    return true;
  } else if constexpr (std::is_same_v<T, uint64_t>) {
    return r.u64(v);
  } else if constexpr (std::is_same_v<T, double>) {
    uint64_t bits;
    if (!r.u64(bits)) return false;
    std::memcpy(&v, &bits, 8);
    return true;
  } else if constexpr (std::is_same_v<T, std::string>) {
    return decodeString(r, v, kStringMax);
  } else if constexpr (IsBoundedString<T>::value) {
    return decodeString(r, v.value, T::kMax);
  } else if constexpr (IsOpaque<T>::value) {
    return decodeString(r, v.bytes, T::kMax);
  } else if constexpr (IsCharArray<T>::value) {
    uint32_t n;
    if (!r.u32(n) || n > T::kMax || r.remaining() / 4 < n) return false;
    v.chars.resize(n);
    for (uint32_t i = 0; i < n; ++i) {
      int32_t c;
      r.i32(c);
      v.chars[i] = static_cast<char>(c);
    }
    return true;
  } else if constexpr (IsFixedChars<T>::value) {
    if (r.remaining() / 4 < T::kN) return false;
    v.chars.clear();
    bool ended = false;
    for (uint32_t i = 0; i < T::kN; ++i) {
      int32_t c;
      r.i32(c);
      if (c == 0) ended = true;
      if (!ended) v.chars.push_back(static_cast<char>(c));
    }
    return true;
  } else if constexpr (std::is_same_v<T, Uuid>) {
    return r.raw(v.data(), v.size());
  } else if constexpr (IsStdArray<T>::value) {
    for (auto& e : v)
      if (!decode(r, e)) return false;
    return true;
  } else if constexpr (IsOptional<T>::value) {
    uint32_t present;
    if (!r.u32(present) || present > 1) return false;
    if (!present) {
      v.reset();
      return true;
    }
    v.emplace();
    return decode(r, *v);
  } else if constexpr (IsArray<T>::value) {
    uint32_t n;
    // Every element takes at least 4 bytes: refuse counts the packet cannot hold.
    if (!r.u32(n) || n > T::kMax || r.remaining() / 4 < n) return false;
    v.clear();
    v.resize(n);
    for (auto& e : v)
      if (!decode(r, e)) return false;
    return true;
  } else if constexpr (std::is_same_v<T, TypedParamValue>) {
    return decodeTypedParamValue(r, v);
  } else if constexpr (std::is_same_v<T, TypedParam>) {
    return decodeString(r, v.field, kStringMax) && decodeTypedParamValue(r, v.value);
  } else if constexpr (std::is_enum_v<T>) {
    int32_t i;
    if (!r.i32(i)) return false;
    v = static_cast<T>(i);
    return true;
  } else {
    static_assert(boost::describe::has_describe_members<T>::value, "XDR type must be described");
    using Ms = boost::describe::describe_members<T, boost::describe::mod_public>;
    bool ok = true;
    boost::mp11::mp_for_each<Ms>([&](auto D) {
      if (ok) ok = decode(r, v.*D.pointer);
    });
    return ok;
  }
}

template <class T>
std::string encodeToString(const T& v) {
  std::string out;
  Writer w(out);
  encode(w, v);
  return out;
}

// Decodes a whole payload; trailing bytes are an error, as in libvirt.
template <class T>
bool decodeFromBytes(const void* p, size_t n, T& v) {
  Reader r(p, n);
  return decode(r, v) && r.atEnd();
}

}  // namespace splitvirt::xdr
