// RPC streams (protocol.md 3.6): after a stream-opening call succeeds, data
// flows as STREAM packets on the call's serial, in both directions.
#pragma once

#include "util/error.hpp"

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <cstdint>

namespace splitvirt::rpc {

// How the daemon side sends to the client; safe from any thread. After eof()
// or error() nothing more is sent.
struct StreamWriter {
  std::function<void(std::string data)> data;
  std::function<void()> eof;  // a zero-length STREAM/CONTINUE
  // A hole of `length` bytes (STREAM_HOLE), for sparse streams only.
  std::function<void(uint64_t length)> hole;
  std::function<void(const Error&)> error;
  // Blocks a producer thread (never an I/O thread) while more than
  // `maxQueued` bytes wait to go out to this client; false once the client
  // is gone. Keeps a fast reader of a slow client within the queue bound.
  std::function<bool(size_t maxQueued)> waitWritable;
};

// The daemon's end of one stream, implemented by a driver (console, volume
// upload/download). Callbacks come from the session's I/O thread, in order.
class StreamEndpoint {
 public:
  virtual ~StreamEndpoint() = default;
  // Called once the OK reply to the opening call is queued.
  virtual void start(StreamWriter writer) = 0;
  virtual void onClientData(std::string_view data) = 0;
  // A STREAM_HOLE from the client; only valid on sparse streams.
  virtual Result<void> onClientHole(uint64_t length) {
    return Error::make(ErrorCode::Rpc, ErrorDomain::Streams, "%s", "", std::string("Unexpected stream hole"));
  }
  // The client finished (STREAM/OK): return an error to fail the finish.
  virtual Result<void> onClientFinish() = 0;
  // Endpoints whose finish blocks (fsync) do it off the I/O thread: return
  // true and call `done` (from any thread) instead of onClientFinish().
  virtual bool finishAsync(std::function<void(Result<void>)> done) { return false; }
  // The client aborted (STREAM/ERROR) or went away.
  virtual void onClientAbort() = 0;
};

using StreamEndpointPtr = std::shared_ptr<StreamEndpoint>;

}  // namespace splitvirt::rpc
