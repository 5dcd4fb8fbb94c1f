// A client byte stream that needs a handshake before the RPC protocol starts
// (TLS). The server drives it through this interface so that only the
// daemons serving TLS link the crypto library.
#pragma once

#include "util/error.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/system/error_code.hpp>

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

namespace splitvirt::rpc {

class SecureStream {
 public:
  using IoHandler = std::function<void(const boost::system::error_code&, size_t)>;
  virtual ~SecureStream() = default;
  // Handshake plus peer verification; `done` gets the client's identity
  // (its certificate's subject DN) or why it is refused. Nothing of the RPC
  // protocol is read before this succeeds.
  virtual void handshake(std::function<void(Result<std::string>)> done) = 0;
  virtual void asyncReadSome(void* data, size_t size, IoHandler handler) = 0;
  // Writes all of [data, data+size) or fails.
  virtual void asyncWrite(const void* data, size_t size, IoHandler handler) = 0;
  virtual void close() = 0;
};

// Wraps an accepted, connected TCP socket fd (ownership passes) on `ex`.
using SecureStreamFactory =
    std::function<std::unique_ptr<SecureStream>(const boost::asio::any_io_executor& ex, int fd)>;

}  // namespace splitvirt::rpc
