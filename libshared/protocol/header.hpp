// Packet framing facts (protocol.md 1.1-1.6).
#pragma once

#include <cstdint>

namespace splitvirt::protocol {

inline constexpr uint32_t kRemoteProgram = 0x20008086;
inline constexpr uint32_t kQemuProgram = 0x20008087;
inline constexpr uint32_t kLxcProgram = 0x00068000;
inline constexpr uint32_t kKeepaliveProgram = 0x6b656570;
inline constexpr uint32_t kAdminProgram = 0x06900690;
inline constexpr uint32_t kProgramVersion = 1;

inline constexpr int kKeepalivePing = 1;
inline constexpr int kKeepalivePong = 2;

inline constexpr uint32_t kMessageMax = 33554432;     // header + payload
inline constexpr uint32_t kHeaderSize = 24;
inline constexpr uint32_t kLengthWordSize = 4;
inline constexpr uint32_t kNumFdsMax = 32;

enum class MsgType : int32_t { Call = 0, Reply = 1, Message = 2, Stream = 3, CallWithFds = 4, ReplyWithFds = 5, StreamHole = 6 };
enum class MsgStatus : int32_t { Ok = 0, Error = 1, Continue = 2 };

struct Header {
  uint32_t prog = kRemoteProgram;
  uint32_t vers = kProgramVersion;
  int32_t proc = 0;
  MsgType type = MsgType::Call;
  uint32_t serial = 0;
  MsgStatus status = MsgStatus::Ok;
};

// Reads the 24 header bytes that follow the length word.
inline Header decodeHeader(const unsigned char* p) {
  auto u = [&](int i) {
    const unsigned char* q = p + 4 * i;
    return (uint32_t(q[0]) << 24) | (uint32_t(q[1]) << 16) | (uint32_t(q[2]) << 8) | q[3];
  };
  return Header{u(0), u(1), static_cast<int32_t>(u(2)), static_cast<MsgType>(u(3)), u(4),
                static_cast<MsgStatus>(u(5))};
}

}  // namespace splitvirt::protocol
