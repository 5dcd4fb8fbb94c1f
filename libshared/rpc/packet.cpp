#include "rpc/packet.hpp"

#include "protocol/remote_types.hpp"
#include "xdr/codec.hpp"

namespace splitvirt::rpc {

using protocol::Header;
using protocol::MsgStatus;
using protocol::MsgType;

uint32_t readWord(std::string_view p, size_t off) {
  const auto* q = reinterpret_cast<const unsigned char*>(p.data() + off);
  return (uint32_t(q[0]) << 24) | (uint32_t(q[1]) << 16) | (uint32_t(q[2]) << 8) | q[3];
}

void writeWord(std::string& p, size_t off, uint32_t v) {
  p[off] = char(v >> 24);
  p[off + 1] = char(v >> 16);
  p[off + 2] = char(v >> 8);
  p[off + 3] = char(v);
}

std::string startPacket(const Header& h, size_t payloadHint) {
  std::string p;
  p.reserve(kPacketHeaderBytes + payloadHint);
  p.resize(kPacketHeaderBytes);
  writeWord(p, 4, h.prog);
  writeWord(p, 8, h.vers);
  writeWord(p, 12, static_cast<uint32_t>(h.proc));
  writeWord(p, 16, static_cast<uint32_t>(h.type));
  writeWord(p, 20, h.serial);
  writeWord(p, 24, static_cast<uint32_t>(h.status));
  return p;
}

void finishPacket(std::string& p) { writeWord(p, 0, static_cast<uint32_t>(p.size())); }

std::string makePacket(const Header& h, std::string_view payload) {
  std::string p = startPacket(h, payload.size());
  p.append(payload.data(), payload.size());
  finishPacket(p);
  return p;
}

void appendError(std::string& out, const Error& e) {
  protocol::RemoteError re;
  re.code = static_cast<int32_t>(e.code);
  re.domain = static_cast<int32_t>(e.domain);
  re.message = e.message;
  re.level = e.level;
  re.str1 = e.str1;
  re.str2 = e.str2;
  re.str3 = e.str3;
  re.int1 = e.int1;
  re.int2 = e.int2;
  xdr::Writer w(out);
  xdr::encode(w, re);
}

std::string makeErrorReply(const Header& call, const Error& e) {
  Header h = call;
  h.type = MsgType::Reply;
  h.status = MsgStatus::Error;
  std::string p = startPacket(h, 256);
  appendError(p, e);
  finishPacket(p);
  return p;
}

std::string makeStreamError(const Header& call, const Error& e) {
  Header h = call;
  h.type = MsgType::Stream;
  h.status = MsgStatus::Error;
  std::string p = startPacket(h, 256);
  appendError(p, e);
  finishPacket(p);
  return p;
}

}  // namespace splitvirt::rpc
