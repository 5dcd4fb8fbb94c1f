// Internal to netlink_*.cpp: rtnetlink message building, attribute parsing and
// the synchronous request/answer exchange over a NETLINK_ROUTE socket.
#pragma once

#include "util/error.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace splitvirt::host::nl {

// virnetlink.c reports with VIR_FROM_NET, which error.hpp does not name yet.
inline constexpr ErrorDomain kFromNet = ErrorDomain::Net;  // VIR_FROM_NET
// virnetdev*.c report with VIR_FROM_NONE.
inline constexpr ErrorDomain kFromNone = ErrorDomain::None;

using Bytes = std::span<const uint8_t>;

// One request: nlmsghdr, the family header, then attributes, each aligned
// to 4 bytes. Lengths are fixed up as parts are appended.
class Message {
 public:
  Message(uint16_t type, uint16_t flags);

  template <class T>
  void putHeader(const T& familyHeader) {
    append(&familyHeader, sizeof familyHeader);
  }
  void put(uint16_t type, const void* data, size_t len);
  void putU8(uint16_t type, uint8_t v) { put(type, &v, sizeof v); }
  void putU32(uint16_t type, uint32_t v) { put(type, &v, sizeof v); }
  void putString(uint16_t type, std::string_view s);  // NUL-terminated
  // Opens a nested attribute; returns the handle endNest needs.
  size_t beginNest(uint16_t type);
  void endNest(size_t handle);
  // Raw bytes inside the current nest (veth's peer ifinfomsg).
  void append(const void* data, size_t len);

  uint16_t type() const;
  uint8_t* data() { return buf_.data(); }
  size_t size() const { return buf_.size(); }

 private:
  void setLength();
  std::vector<uint8_t> buf_;
};

// One message of the kernel's answer (a copy, detached from the datagram).
struct Received {
  uint16_t type = 0;
  uint16_t flags = 0;
  std::vector<uint8_t> payload;  // after the nlmsghdr

  // The family header at the start of the payload; nullopt when too short.
  template <class T>
  std::optional<T> header() const {
    if (payload.size() < sizeof(T)) return std::nullopt;
    T t;
    std::memcpy(&t, payload.data(), sizeof t);
    return t;
  }
  // The attributes after a family header of `headerSize` bytes (aligned).
  Bytes attrs(size_t headerSize) const;
};

// The outcome of one exchange: `err` is the kernel's errno (0 = success) and
// `messages` the data messages of our sequence number, in order.
struct Answer {
  int err = 0;
  std::vector<Received> messages;
};

// Sends `msg` and reads the answer: for a plain request the messages before
// the ACK (NLM_F_ACK is added), for a dump (NLM_F_DUMP set by the caller)
// everything up to NLMSG_DONE, restarting an interrupted dump a few times.
// Only local failures (socket, malformed answer, timeout) are Errors.
Result<Answer> transact(Message& msg);

// Attributes of one level, indexed by type (NLA_F_* flag bits masked off).
// Truncated or overlong attributes make the whole set invalid.
class Attrs {
 public:
  Attrs(Bytes data, uint16_t maxType);
  bool valid() const { return valid_; }
  std::optional<Bytes> get(uint16_t type) const;
  std::optional<uint32_t> u32(uint16_t type) const;
  std::optional<uint8_t> u8(uint16_t type) const;
  std::optional<std::string> str(uint16_t type) const;  // up to the first NUL

 private:
  std::vector<std::optional<Bytes>> tb_;
  bool valid_ = true;
};

Error malformed();

}  // namespace splitvirt::host::nl
