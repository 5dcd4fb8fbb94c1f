// Big-endian primitive reader/writer. The reader never trusts a length: every
// count is checked against the remaining bytes before it is used.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace splitvirt::xdr {

class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}
  void u32(uint32_t v) {
    char b[4] = {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
    out_.append(b, 4);
  }
  void i32(int32_t v) { u32(static_cast<uint32_t>(v)); }
  void u64(uint64_t v) {
    u32(static_cast<uint32_t>(v >> 32));
    u32(static_cast<uint32_t>(v));
  }
  void bytes(const void* p, size_t n) { out_.append(static_cast<const char*>(p), n); }
  void pad(size_t n) {
    static const char zeros[4] = {0, 0, 0, 0};
    size_t r = n % 4;
    if (r) out_.append(zeros, 4 - r);
  }
  std::string& out() { return out_; }

 private:
  std::string& out_;
};

class Reader {
 public:
  Reader(const void* p, size_t n) : p_(static_cast<const uint8_t*>(p)), n_(n) {}
  explicit Reader(std::string_view s) : Reader(s.data(), s.size()) {}
  bool u32(uint32_t& v) {
    if (n_ - off_ < 4) return false;
    const uint8_t* q = p_ + off_;
    v = (uint32_t(q[0]) << 24) | (uint32_t(q[1]) << 16) | (uint32_t(q[2]) << 8) | q[3];
    off_ += 4;
    return true;
  }
  bool i32(int32_t& v) {
    uint32_t u;
    if (!u32(u)) return false;
    v = static_cast<int32_t>(u);
    return true;
  }
  bool u64(uint64_t& v) {
    uint32_t hi, lo;
    if (!u32(hi) || !u32(lo)) return false;
    v = (uint64_t(hi) << 32) | lo;
    return true;
  }
  // Copies n bytes plus XDR padding; fails without allocating if short.
  bool bytes(std::string& dst, size_t n) {
    size_t padded = (n + 3) & ~size_t(3);
    if (padded < n || n_ - off_ < padded) return false;
    dst.assign(reinterpret_cast<const char*>(p_ + off_), n);
    off_ += padded;
    return true;
  }
  bool raw(void* dst, size_t n) {
    if (n_ - off_ < n) return false;
    std::memcpy(dst, p_ + off_, n);
    off_ += n;
    return true;
  }
  size_t remaining() const { return n_ - off_; }
  bool atEnd() const { return off_ == n_; }

 private:
  const uint8_t* p_;
  size_t n_;
  size_t off_ = 0;
};

}  // namespace splitvirt::xdr
