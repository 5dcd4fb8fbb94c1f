// A blocking RPC client for talking to a sibling daemon over its unix
// socket (virtqemud -> virtstoraged). One call at a time per connection;
// used from blocking-pool threads only.
#pragma once

#include "protocol/header.hpp"
#include "util/error.hpp"
#include "xdr/codec.hpp"

#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace splitvirt::rpc {

struct RawReply {
  protocol::Header header;
  std::string payload;
};

class SyncClient {
 public:
  // Connects; the error is libvirt's "Failed to connect socket to '<path>'".
  static Result<std::unique_ptr<SyncClient>> connect(const std::string& socketPath);
  ~SyncClient();

  // Sends a CALL and returns the payload of its OK reply; an ERROR reply
  // becomes the backend's own error, unchanged.
  Result<std::string> callRaw(uint32_t prog, int proc, std::string_view args);

  template <class Proc>
  Result<typename Proc::Ret> call(const Proc& proc, const typename Proc::Args& args) {
    auto raw = callRaw(protocol::kRemoteProgram, proc.number, xdr::encodeToString(args));
    if (!raw) return raw.error();
    typename Proc::Ret ret{};
    if (!xdr::decodeFromBytes(raw->data(), raw->size(), ret))
      return Error::rpc(ErrorDomain::Rpc, "Unable to decode message payload");
    return ret;
  }

  // For stream relays: raw packet I/O after a stream-opening call.
  Result<void> sendPacket(const protocol::Header& h, std::string_view payload);
  Result<RawReply> readPacket();
  void shutdown();  // unblocks a reader in another thread
  const std::string& socketPath() const { return path_; }

 private:
  SyncClient(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_;
  std::string path_;
  uint32_t serial_ = 0;
  std::mutex mutex_;
};

// RemoteError payload -> Error, every field kept.
Error decodeRemoteError(std::string_view payload);

}  // namespace splitvirt::rpc
