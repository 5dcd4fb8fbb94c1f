#include "rpc/sync_client.hpp"

#include "protocol/remote_types.hpp"

#include <cerrno>
#include <cstring>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace splitvirt::rpc {

namespace {

bool writeAll(int fd, const char* p, size_t n) {
  while (n) {
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

bool readAll(int fd, char* p, size_t n) {
  while (n) {
    ssize_t r = ::recv(fd, p, n, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

Error connectionLost(const std::string& path) {
  return Error::make(ErrorCode::OperationFailed, ErrorDomain::Rpc, "operation failed: %s", "",
                     std::string("connection to the daemon at '" + path + "' was lost"));
}

}  // namespace

Error decodeRemoteError(std::string_view payload) {
  protocol::RemoteError re;
  Error e;
  if (!xdr::decodeFromBytes(payload.data(), payload.size(), re)) {
    e = Error::rpc(ErrorDomain::Rpc, "Unable to decode message payload");
    return e;
  }
  e.code = static_cast<ErrorCode>(re.code);
  e.domain = static_cast<ErrorDomain>(re.domain);
  e.message = re.message.value_or("Unknown error");
  e.level = re.level;
  e.str1 = re.str1;
  e.str2 = re.str2;
  e.str3 = re.str3;
  e.int1 = re.int1;
  e.int2 = re.int2;
  return e;
}

Result<std::unique_ptr<SyncClient>> SyncClient::connect(const std::string& socketPath) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socketPath.size() >= sizeof addr.sun_path)
    return Error::internal(ErrorDomain::Rpc, "Path " + socketPath + " too long for unix socket");
  std::memcpy(addr.sun_path, socketPath.c_str(), socketPath.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Error::systemError(ErrorDomain::Rpc, errno, "Failed to create socket");
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) {
    int e = errno;
    ::close(fd);
    return Error::systemError(ErrorDomain::Rpc, e, "Failed to connect socket to '" + socketPath + "'");
  }
  return std::unique_ptr<SyncClient>(new SyncClient(fd, socketPath));
}

SyncClient::~SyncClient() {
  if (fd_ >= 0) ::close(fd_);
}

void SyncClient::shutdown() { ::shutdown(fd_, SHUT_RDWR); }

Result<void> SyncClient::sendPacket(const protocol::Header& h, std::string_view payload) {
  std::string pkt;
  xdr::Writer w(pkt);
  w.u32(static_cast<uint32_t>(28 + payload.size()));
  w.u32(h.prog);
  w.u32(h.vers);
  w.i32(h.proc);
  w.i32(static_cast<int32_t>(h.type));
  w.u32(h.serial);
  w.i32(static_cast<int32_t>(h.status));
  pkt.append(payload.data(), payload.size());
  if (!writeAll(fd_, pkt.data(), pkt.size())) return connectionLost(path_);
  return {};
}

Result<RawReply> SyncClient::readPacket() {
  char lenBuf[4];
  if (!readAll(fd_, lenBuf, 4)) return connectionLost(path_);
  uint32_t len = (uint32_t(uint8_t(lenBuf[0])) << 24) | (uint32_t(uint8_t(lenBuf[1])) << 16) |
                 (uint32_t(uint8_t(lenBuf[2])) << 8) | uint8_t(lenBuf[3]);
  if (len < 28 || len - 4 > protocol::kMessageMax)
    return Error::rpc(ErrorDomain::Rpc, "packet received from server too large");
  std::string body(len - 4, '\0');
  if (!readAll(fd_, body.data(), body.size())) return connectionLost(path_);
  RawReply r;
  r.header = protocol::decodeHeader(reinterpret_cast<const unsigned char*>(body.data()));
  r.payload = body.substr(protocol::kHeaderSize);
  return r;
}

Result<std::string> SyncClient::callRaw(uint32_t prog, int proc, std::string_view args) {
  std::lock_guard lk(mutex_);
  uint32_t serial = serial_++;
  protocol::Header h{prog, protocol::kProgramVersion, proc, protocol::MsgType::Call, serial, protocol::MsgStatus::Ok};
  if (auto r = sendPacket(h, args); !r) return r.error();
  for (;;) {
    auto p = readPacket();
    if (!p) return p.error();
    const auto& rh = p->header;
    if (rh.prog == protocol::kKeepaliveProgram) {
      if (rh.proc == protocol::kKeepalivePing) {
        protocol::Header pong{protocol::kKeepaliveProgram, 1, protocol::kKeepalivePong, protocol::MsgType::Message, 0,
                              protocol::MsgStatus::Ok};
        (void)sendPacket(pong, {});
      }
      continue;
    }
    if (rh.type != protocol::MsgType::Reply || rh.serial != serial) continue;  // events etc.
    if (rh.status == protocol::MsgStatus::Error) return decodeRemoteError(p->payload);
    return std::move(p->payload);
  }
}

}  // namespace splitvirt::rpc
