// Building whole framed packets (length word + header + payload) and the
// few in-place edits a packet relay needs, without decoding payloads.
#pragma once

#include "protocol/header.hpp"
#include "util/error.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace splitvirt::rpc {

inline constexpr size_t kPacketHeaderBytes = protocol::kLengthWordSize + protocol::kHeaderSize;  // 28

// Length placeholder + header; finishPacket() fills the length once the
// payload has been appended.
std::string startPacket(const protocol::Header& h, size_t payloadHint = 0);
void finishPacket(std::string& packet);
std::string makePacket(const protocol::Header& h, std::string_view payload);

// Appends the XDR remote_error for `e` (protocol.md 2.1).
void appendError(std::string& out, const Error& e);
// A REPLY/ERROR answering `call` (same prog, vers, proc, serial).
std::string makeErrorReply(const protocol::Header& call, const Error& e);
// A STREAM/ERROR on the stream opened by `call`'s serial.
std::string makeStreamError(const protocol::Header& call, const Error& e);

// Big-endian word access into a framed packet (offsets count the length word).
uint32_t readWord(std::string_view packet, size_t offset);
void writeWord(std::string& packet, size_t offset, uint32_t value);

// The first 4-byte word of the payload (event callback ids live there).
inline constexpr size_t kFirstPayloadWord = kPacketHeaderBytes;

}  // namespace splitvirt::rpc
