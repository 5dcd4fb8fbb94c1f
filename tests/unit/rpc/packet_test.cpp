#include "protocol/header.hpp"
#include "rpc/packet.hpp"
#include "rpc/sync_client.hpp"

#include <doctest/doctest.h>

using namespace splitvirt;
using namespace splitvirt::rpc;
using protocol::Header;
using protocol::MsgStatus;
using protocol::MsgType;

TEST_CASE("packets: framing, error replies, word edits") {
  Header call{protocol::kRemoteProgram, 1, 23, MsgType::Call, 7, MsgStatus::Ok};
  std::string p = makePacket(call, std::string("\0\0\0\5", 4));
  CHECK(p.size() == 32);
  CHECK(readWord(p, 0) == 32);
  Header h = protocol::decodeHeader(reinterpret_cast<const unsigned char*>(p.data()) + 4);
  CHECK(h.proc == 23);
  CHECK(h.serial == 7);
  CHECK(readWord(p, kFirstPayloadWord) == 5);
  writeWord(p, kFirstPayloadWord, 0xdeadbeef);
  CHECK(readWord(p, kFirstPayloadWord) == 0xdeadbeef);

  Error e = Error::internal(ErrorDomain::Rpc, "domain event callback 3 not registered");
  std::string r = makeErrorReply(call, e);
  Header rh = protocol::decodeHeader(reinterpret_cast<const unsigned char*>(r.data()) + 4);
  CHECK(rh.type == MsgType::Reply);
  CHECK(rh.status == MsgStatus::Error);
  CHECK(rh.proc == 23);
  CHECK(rh.serial == 7);
  CHECK(readWord(r, 0) == r.size());
  Error back = decodeRemoteError(std::string_view(r).substr(kPacketHeaderBytes));
  CHECK(back.code == ErrorCode::InternalError);
  CHECK(back.domain == ErrorDomain::Rpc);
  CHECK(back.message == "internal error: domain event callback 3 not registered");

  std::string s = makeStreamError(call, e);
  Header sh = protocol::decodeHeader(reinterpret_cast<const unsigned char*>(s.data()) + 4);
  CHECK(sh.type == MsgType::Stream);
  CHECK(sh.status == MsgStatus::Error);
}
