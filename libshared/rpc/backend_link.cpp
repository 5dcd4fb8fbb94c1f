#include "rpc/backend_link.hpp"

#include "rpc/packet.hpp"

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <cstring>
#include <deque>
#include <vector>

namespace splitvirt::rpc {

namespace asio = boost::asio;
using Socket = asio::local::stream_protocol::socket;

namespace {
// Packets up to this size are read in batches into one buffer; a larger one
// (stream data) is read straight into its own string: one copy at most.
constexpr size_t kReadBuffer = 64 * 1024;
constexpr size_t kMaxBatch = 64;
}  // namespace

struct BackendLink::Impl : std::enable_shared_from_this<BackendLink::Impl> {
  Impl(const asio::any_io_executor& ex, std::string p, Handler& h, BackendLink& o)
      : ex(ex), sock(ex), path(std::move(p)), handler(&h), owner(&o) {
    rbuf.resize(kReadBuffer);
  }

  asio::any_io_executor ex;
  Socket sock;
  std::string path;
  Handler* handler;  // null once closed: completions still in flight see that
  BackendLink* owner;
  bool connected = false;
  bool closed = false;
  bool reading = false;
  bool paused = false;
  bool inRead = false;
  std::vector<char> rbuf;
  size_t rlen = 0;
  std::string big;  // a packet larger than rbuf, being filled
  size_t bigFill = 0;
  std::deque<std::string> wq;
  size_t wqBytes = 0;
  size_t nWriting = 0;
  bool writing = false;
  std::vector<asio::const_buffer> bufs;
  std::vector<std::function<void()>> drainWaiters;

  void connect() {
    sock.async_connect(asio::local::stream_protocol::endpoint(path),
                       [self = shared_from_this()](const boost::system::error_code& ec) { self->onConnect(ec); });
  }

  void onConnect(const boost::system::error_code& ec) {
    if (closed) return;
    if (ec) {
      Handler* h = handler;
      shut();
      h->onBackendConnected(*owner, Error::systemError(ErrorDomain::Rpc, ec.value(),
                                                       "Failed to connect socket to '" + path + "'"));
      return;
    }
    connected = true;
    handler->onBackendConnected(*owner, Result<void>());
    if (closed) return;
    if (!wq.empty() && !writing) doWrite();
    doRead();
  }

  void shut() {
    closed = true;
    handler = nullptr;
    drainWaiters.clear();
    boost::system::error_code ec;
    sock.shutdown(Socket::shutdown_both, ec);
    sock.close(ec);
  }

  void fail(const Error& why) {
    if (closed) return;
    Handler* h = handler;
    shut();
    h->onBackendClosed(*owner, why);
  }

  void failIo(const boost::system::error_code& ec) {
    if (ec == asio::error::eof)
      fail(Error::rpc(ErrorDomain::Rpc, "End of file while reading data from '" + path + "'"));
    else
      fail(Error::systemError(ErrorDomain::Rpc, ec.value(), "Cannot use socket '" + path + "'"));
  }

  void doRead() {
    if (closed || reading || paused || inRead || !connected) return;
    reading = true;
    auto self = shared_from_this();
    if (!big.empty()) {
      asio::async_read(sock, asio::buffer(big.data() + bigFill, big.size() - bigFill),
                       [self](const boost::system::error_code& ec, size_t) { self->onBigRead(ec); });
      return;
    }
    sock.async_read_some(asio::buffer(rbuf.data() + rlen, rbuf.size() - rlen),
                         [self](const boost::system::error_code& ec, size_t n) { self->onRead(ec, n); });
  }

  void deliver(std::string&& pkt) {
    protocol::Header h = protocol::decodeHeader(reinterpret_cast<const unsigned char*>(pkt.data()) + 4);
    handler->onBackendPacket(*owner, h, std::move(pkt));
  }

  void onRead(const boost::system::error_code& ec, size_t n) {
    reading = false;
    if (closed) return;
    if (ec) return failIo(ec);
    rlen += n;
    size_t off = 0;
    inRead = true;
    while (!closed && rlen - off >= 4) {
      uint32_t len = readWord(std::string_view(rbuf.data() + off, 4), 0);
      if (len < kPacketHeaderBytes || len - 4 > protocol::kMessageMax) {
        inRead = false;
        return fail(Error::rpc(ErrorDomain::Rpc, "packet received from '" + path + "' has a bad length"));
      }
      if (rlen - off >= len) {
        deliver(std::string(rbuf.data() + off, len));
        off += len;
        continue;
      }
      if (len > kReadBuffer) {
        big.assign(len, '\0');
        bigFill = rlen - off;
        std::memcpy(big.data(), rbuf.data() + off, bigFill);
        off = rlen;
      }
      break;
    }
    inRead = false;
    if (closed) return;
    if (off) {
      std::memmove(rbuf.data(), rbuf.data() + off, rlen - off);
      rlen -= off;
    }
    doRead();
  }

  void onBigRead(const boost::system::error_code& ec) {
    reading = false;
    if (closed) return;
    if (ec) return failIo(ec);
    std::string pkt = std::move(big);
    big.clear();
    bigFill = 0;
    rlen = 0;
    inRead = true;
    deliver(std::move(pkt));
    inRead = false;
    doRead();
  }

  void send(std::string pkt) {
    if (closed) return;
    wqBytes += pkt.size();
    wq.push_back(std::move(pkt));
    if (connected && !writing) doWrite();
  }

  void doWrite() {
    writing = true;
    bufs.clear();
    nWriting = std::min(wq.size(), kMaxBatch);
    for (size_t i = 0; i < nWriting; ++i) bufs.emplace_back(asio::buffer(wq[i]));
    asio::async_write(sock, bufs, [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
      self->onWrite(ec);
    });
  }

  void onWrite(const boost::system::error_code& ec) {
    writing = false;
    if (closed) return;
    if (ec) return failIo(ec);
    for (size_t i = 0; i < nWriting; ++i) {
      wqBytes -= wq.front().size();
      wq.pop_front();
    }
    if (!wq.empty()) return doWrite();
    auto waiters = std::move(drainWaiters);
    drainWaiters.clear();
    for (auto& fn : waiters) fn();
  }
};

BackendLink::BackendLink(const asio::any_io_executor& ex, std::string socketPath, Handler& handler)
    : impl_(std::make_shared<Impl>(ex, std::move(socketPath), handler, *this)) {}

BackendLink::~BackendLink() { close(); }

void BackendLink::connect() { impl_->connect(); }
void BackendLink::send(std::string packet) { impl_->send(std::move(packet)); }
size_t BackendLink::queuedBytes() const { return impl_->wqBytes; }

void BackendLink::whenDrained(std::function<void()> fn) {
  if (impl_->closed) return;
  if (impl_->wq.empty() && !impl_->writing) {
    asio::post(impl_->ex, [impl = impl_, fn = std::move(fn)] {
      if (!impl->closed) fn();
    });
    return;
  }
  impl_->drainWaiters.push_back(std::move(fn));
}

void BackendLink::pauseReading() { impl_->paused = true; }
void BackendLink::resumeReading() {
  impl_->paused = false;
  impl_->doRead();
}

void BackendLink::close() {
  if (!impl_->closed) impl_->shut();
}

const std::string& BackendLink::socketPath() const { return impl_->path; }

}  // namespace splitvirt::rpc
