#include "rpc/server.hpp"

#include "protocol/header.hpp"
#include "rpc/packet.hpp"
#include "util/log.hpp"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/write.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <variant>
#include <vector>

namespace asio = boost::asio;
using Socket = asio::local::stream_protocol::socket;
using Acceptor = asio::local::stream_protocol::acceptor;
using TcpSocket = asio::ip::tcp::socket;
using TcpAcceptor = asio::ip::tcp::acceptor;
// Each session lives on one single-threaded io_context, so that context's
// executor serialises it like a strand, without cross-thread wakeups.
using Strand = asio::any_io_executor;

namespace splitvirt::rpc {

using protocol::Header;
using protocol::MsgStatus;
using protocol::MsgType;

namespace {

void setStatus(std::string& p, MsgStatus s) { writeWord(p, 24, static_cast<uint32_t>(s)); }

// A client's byte stream: a unix or TCP socket, or a wrapped (TLS) one.
using SecurePtr = std::unique_ptr<SecureStream>;
using ClientStream = std::variant<Socket, TcpSocket, SecurePtr>;

// How long a TLS client may take to complete its handshake.
constexpr auto kHandshakeTimeout = std::chrono::seconds(30);

}  // namespace

class Session;

struct Server::Impl {
  ServerLimits limits;
  const Program& program;
  std::vector<const Program*> extraPrograms;
  const Program* programFor(uint32_t prog, uint32_t vers) const {
    if (vers != protocol::kProgramVersion) return nullptr;
    if (prog == program.number()) return &program;
    for (auto* p : extraPrograms)
      if (p->number() == prog) return p;
    return nullptr;
  }
  // One io_context per I/O thread: a packet is read, handled and answered
  // on the same thread (a shared multi-threaded context hands completions
  // between threads, which doubled the round-trip time).
  std::vector<std::unique_ptr<asio::io_context>> ios;
  asio::io_context& io;
  std::atomic<size_t> nextIo{0};
  asio::thread_pool blocking;
  struct Listener {
    ListenerKind kind;
    std::unique_ptr<Acceptor> unixAcceptor;  // one of these two
    std::unique_ptr<TcpAcceptor> tcpAcceptor;
    SecureStreamFactory secure;
  };
  std::vector<Listener> listeners;
  PacketRouterFactory routerFactory;
  std::mutex sessionsMutex;
  std::set<std::shared_ptr<Session>> sessions;
  std::function<void(size_t)> clientObserver;
  std::atomic<uint64_t> nextClientId{1};
  std::atomic<bool> stopping{false};

  static std::vector<std::unique_ptr<asio::io_context>> makeContexts(unsigned n) {
    std::vector<std::unique_ptr<asio::io_context>> v;
    for (unsigned i = 0; i < std::max(1u, n); ++i) v.push_back(std::make_unique<asio::io_context>(1));
    return v;
  }
  Impl(ServerLimits l, const Program& p)
      : limits(l), program(p), ios(makeContexts(l.ioThreads)), io(*ios[0]), blocking(l.blockingThreads) {}

  void accept(size_t idx);
  void acceptTcp(size_t idx);
  void addSession(const std::shared_ptr<Session>& s);
  void removeSession(const std::shared_ptr<Session>& s);
  size_t count() {
    std::lock_guard lk(sessionsMutex);
    return sessions.size();
  }
};

class Session : public std::enable_shared_from_this<Session>, public ClientLink {
 public:
  Session(Server::Impl& srv, Strand ex, ClientStream stream, ListenerKind kind, PeerInfo peer)
      : srv_(srv), strand_(std::move(ex)), stream_(std::move(stream)), keepalive_(strand_),
        peer_(std::move(peer)) {
    ctx_.listener = kind;
    ctx_.readonly = kind == ListenerKind::ReadOnly;
    ctx_.clientId = srv_.nextClientId++;
    if (auto* unix = std::get_if<Socket>(&stream_)) {
      struct ucred cred {};
      socklen_t len = sizeof cred;
      if (::getsockopt(unix->native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
        ctx_.uid = cred.uid;
        ctx_.gid = cred.gid;
        ctx_.pid = cred.pid;
      }
    }
    rbuf_.resize(64 * 1024);
  }

  void start() {
    std::weak_ptr<Session> weak = shared_from_this();
    ctx_.sendMessage = [weak](int proc, std::string payload) {
      if (auto s = weak.lock()) s->queueMessage(proc, std::move(payload));
    };
    if (auto* secure = std::get_if<SecurePtr>(&stream_)) return startHandshake(**secure);
    begin();
  }

  Strand& strand() { return strand_; }
  void closeAsync() {
    asio::post(strand_, [self = shared_from_this()] { self->closeNow(); });
  }

  // ClientLink (packet routers), always called on our strand.
  const asio::any_io_executor& executor() const override { return strand_; }
  ConnContext& ctx() override { return ctx_; }
  const PeerInfo& peer() const override { return peer_; }
  void send(std::string packet) override { queue(std::move(packet)); }
  size_t queuedBytes() const override { return wqBytes_; }
  void whenDrained(std::function<void()> fn) override {
    if (closed_) return;
    if (wq_.empty() && !writing_) {
      asio::post(strand_, [self = shared_from_this(), fn = std::move(fn)] {
        if (!self->closed_) fn();
      });
      return;
    }
    drainWaiters_.push_back(std::move(fn));
  }
  void pauseReading() override { paused_ = true; }
  void resumeReading() override {
    paused_ = false;
    if (mayRead()) doRead();
  }
  void close() override { closeAsync(); }

 private:
  void closeNow() {
    if (closed_) return;
    closed_ = true;
    {
      std::lock_guard lk(drainMutex_);
      gone_ = true;
    }
    drained_.notify_all();
    boost::system::error_code ec;
    keepalive_.cancel();
    auto streams = std::move(streams_);
    streams_.clear();
    for (auto& [serial, st] : streams) st.ep->onClientAbort();
    handshakeTimer_.reset();
    drainWaiters_.clear();
    std::visit(
        [&](auto& s) {
          if constexpr (std::is_same_v<std::decay_t<decltype(s)>, SecurePtr>) {
            s->close();
          } else {
            s.shutdown(Socket::shutdown_both, ec);
            s.close(ec);
          }
        },
        stream_);
    if (router_) router_->onClientClosed();
    srv_.removeSession(shared_from_this());
  }

  // TLS: nothing of the protocol is read before the peer is verified; a
  // client that does not finish its handshake in time is dropped.
  void startHandshake(SecureStream& secure) {
    peer_.transport = Transport::Tls;
    handshakeTimer_ = std::make_unique<asio::steady_timer>(strand_, kHandshakeTimeout);
    handshakeTimer_->async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec || self->closed_ || self->handshook_) return;
      log::warn("client %llu (%s): TLS handshake timed out", (unsigned long long)self->ctx_.clientId,
                self->peer_.address.c_str());
      self->closeNow();
    });
    secure.handshake([self = shared_from_this()](Result<std::string> dn) {
      asio::post(self->strand_, [self, dn = std::move(dn)] { self->onHandshake(dn); });
    });
  }

  void onHandshake(const Result<std::string>& dn) {
    if (closed_) return;
    handshook_ = true;
    if (handshakeTimer_) handshakeTimer_->cancel();
    if (!dn) {
      log::warn("client %llu (%s): refused: %s", (unsigned long long)ctx_.clientId, peer_.address.c_str(),
                dn.error().message.c_str());
      return closeNow();
    }
    peer_.x509Dn = *dn;
    log::info("client %llu (%s): TLS peer '%s'", (unsigned long long)ctx_.clientId, peer_.address.c_str(),
              dn->c_str());
    // libvirt's clients wait for this one byte: "your certificate passed".
    queue(std::string(1, '\1'));
    begin();
  }

  void begin() {
    if (srv_.routerFactory && ctx_.listener != ListenerKind::Admin) router_ = srv_.routerFactory(*this);
    doRead();
  }

  bool mayRead() const {
    return !closed_ && !reading_ && !paused_ && !inOnRead_ && inflight_ < srv_.limits.maxClientRequests;
  }

  void doRead() {
    if (closed_) return;
    if (rlen_ == rbuf_.size()) rbuf_.resize(std::min<size_t>(rbuf_.size() * 2, need_ ? need_ : rbuf_.size() * 2));
    reading_ = true;
    auto done = [self = shared_from_this()](const boost::system::error_code& ec, size_t n) { self->onRead(ec, n); };
    char* buf = rbuf_.data() + rlen_;
    size_t room = rbuf_.size() - rlen_;
    std::visit(
        [&](auto& s) {
          if constexpr (std::is_same_v<std::decay_t<decltype(s)>, SecurePtr>)
            s->asyncReadSome(buf, room, std::move(done));
          else
            s.async_read_some(asio::buffer(buf, room), asio::bind_executor(strand_, std::move(done)));
        },
        stream_);
  }

  void onRead(const boost::system::error_code& ec, size_t n) {
    reading_ = false;
    if (ec) return closeNow();
    inOnRead_ = true;
    rlen_ += n;
    lastRx_ = std::chrono::steady_clock::now();
    missedPings_ = 0;
    size_t off = 0;
    while (!closed_ && rlen_ - off >= 4) {
      const auto* p = reinterpret_cast<const unsigned char*>(rbuf_.data() + off);
      uint32_t len = (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
      // A bad length word means the stream is unusable: drop only this client.
      if (len < 4 + protocol::kHeaderSize || len - 4 > protocol::kMessageMax) {
        log::warn("client %llu: bad packet length %u, dropping", (unsigned long long)ctx_.clientId, len);
        return closeNow();
      }
      if (rlen_ - off < len) {
        need_ = len;
        break;
      }
      need_ = 0;
      handlePacket(p + 4, len - 4);
      off += len;
    }
    inOnRead_ = false;
    if (closed_) return;
    if (off) {
      std::memmove(rbuf_.data(), rbuf_.data() + off, rlen_ - off);
      rlen_ -= off;
    }
    // Grow the buffer only up to the validated length of the pending packet.
    if (need_ > rbuf_.size()) rbuf_.resize(std::max<size_t>(need_, rlen_));
    if (mayRead()) doRead();
  }

  void handlePacket(const unsigned char* p, size_t n) {
    Header h = protocol::decodeHeader(p);
    std::string_view payload(reinterpret_cast<const char*>(p) + protocol::kHeaderSize, n - protocol::kHeaderSize);

    if (h.prog == protocol::kKeepaliveProgram) {
      // Answered here, never counted against the request quota.
      if (h.type == MsgType::Message && h.proc == protocol::kKeepalivePing) {
        Header r{protocol::kKeepaliveProgram, 1, protocol::kKeepalivePong, MsgType::Message, 0, MsgStatus::Ok};
        std::string pkt = startPacket(r);
        finishPacket(pkt);
        queue(std::move(pkt));
      }
      return;
    }
    if (router_) {
      router_->onPacket(h, std::string_view(reinterpret_cast<const char*>(p) - 4, n + 4));
      if (ctx_.keepaliveRequested && !keepaliveRunning_) startKeepalive();
      return;
    }
    if (h.type == MsgType::Stream || h.type == MsgType::StreamHole) return handleStreamPacket(h, payload);
    if (h.type != MsgType::Call && h.type != MsgType::CallWithFds) return;

    Header rh = h;
    rh.type = MsgType::Reply;
    rh.status = MsgStatus::Ok;
    std::string out = startPacket(rh, 256);

    auto fail = [&](const Error& e) {
      out.resize(28);
      setStatus(out, MsgStatus::Error);
      appendError(out, e);
      finishPacket(out);
      queue(std::move(out));
    };

    const Program* prog = srv_.programFor(h.prog, h.vers);
    if (!prog)
      return fail(Error::rpc(ErrorDomain::Rpc, "Cannot find program " + std::to_string(h.prog) + " version " +
                                                   std::to_string(h.vers)));
    if (h.status != MsgStatus::Ok)
      return fail(Error::rpc(ErrorDomain::Rpc,
                             "Unexpected message status " + std::to_string(static_cast<int>(h.status))));
    if (h.type == MsgType::CallWithFds)
      return fail(Error::rpc(ErrorDomain::Rpc, "file descriptor passing is not supported"));

    auto routed = prog->route(ctx_, h.proc);
    if (!routed) return fail(routed.error());
    const Entry* entry = *routed;

    if (!entry->blocking) {
      StreamEndpointPtr stream;
      auto r = entry->handler(ctx_, payload, out, stream);
      if (ctx_.keepaliveRequested && !keepaliveRunning_) startKeepalive();
      if (!r) return fail(r.error());
      finishPacket(out);
      queue(std::move(out));
      if (stream) openStream(h, std::move(stream));
      return;
    }

    // Blocking work leaves the I/O thread; the reply comes back to our strand.
    ++inflight_;
    asio::post(srv_.blocking, [self = shared_from_this(), entry, h, args = std::string(payload),
                               out = std::move(out)]() mutable {
      StreamEndpointPtr stream;
      auto r = entry->handler(self->ctx_, args, out, stream);
      std::optional<Error> err;
      if (!r) err = r.error();
      asio::post(self->strand_, [self, h, out = std::move(out), err = std::move(err),
                                 stream = std::move(stream)]() mutable {
        if (err) {
          out.resize(28);
          setStatus(out, MsgStatus::Error);
          appendError(out, *err);
        }
        finishPacket(out);
        self->queue(std::move(out));
        if (!err && stream) self->openStream(h, std::move(stream));
        --self->inflight_;
        if (self->mayRead()) self->doRead();
      });
    });
  }

  struct OpenStream {
    StreamEndpointPtr ep;
    int proc;
  };

  // libvirt itself never sends more than this per STREAM packet.
  static constexpr size_t kStreamChunk = 262120;

  void sendStreamPacket(int proc, uint32_t serial, MsgStatus status, std::string_view payload) {
    Header h{protocol::kRemoteProgram, 1, proc, MsgType::Stream, serial, status};
    std::string pkt = startPacket(h, payload.size());
    pkt.append(payload.data(), payload.size());
    finishPacket(pkt);
    queue(std::move(pkt));
  }

  void openStream(const Header& call, StreamEndpointPtr ep) {
    if (closed_) return ep->onClientAbort();
    int proc = call.proc;
    uint32_t serial = call.serial;
    streams_[serial] = OpenStream{ep, proc};
    std::weak_ptr<Session> weak = shared_from_this();
    // The writer may be used from any thread; every send hops to our strand
    // and is dropped once the stream is over.
    auto onStrand = [weak, serial](auto fn) {
      if (auto self = weak.lock())
        asio::post(self->strand_, [self, serial, fn = std::move(fn)]() mutable {
          if (self->closed_ || !self->streams_.count(serial)) return;
          fn(*self);
        });
    };
    StreamWriter w;
    w.data = [onStrand, proc, serial](std::string data) {
      onStrand([proc, serial, data = std::move(data)](Session& s) {
        for (size_t off = 0; off < data.size(); off += kStreamChunk)
          s.sendStreamPacket(proc, serial, MsgStatus::Continue,
                             std::string_view(data).substr(off, kStreamChunk));
      });
    };
    w.hole = [onStrand, proc, serial](uint64_t length) {
      onStrand([proc, serial, length](Session& s) {
        std::string body;
        xdr::Writer xw(body);
        xw.u64(length);
        xw.u32(0);
        Header h{protocol::kRemoteProgram, 1, proc, MsgType::StreamHole, serial, MsgStatus::Continue};
        std::string pkt = startPacket(h, body.size());
        pkt += body;
        finishPacket(pkt);
        s.queue(std::move(pkt));
      });
    };
    w.eof = [onStrand, proc, serial] {
      onStrand([proc, serial](Session& s) { s.sendStreamPacket(proc, serial, MsgStatus::Continue, {}); });
    };
    w.waitWritable = [weak](size_t maxQueued) {
      auto self = weak.lock();
      if (!self) return false;
      std::unique_lock lk(self->drainMutex_);
      self->drained_.wait_for(lk, std::chrono::seconds(30),
                              [&] { return self->gone_ || self->queuedMirror_ <= maxQueued; });
      return !self->gone_;
    };
    w.error = [onStrand, proc, serial](const Error& e) {
      onStrand([proc, serial, e](Session& s) {
        std::string body;
        appendError(body, e);
        s.sendStreamPacket(proc, serial, MsgStatus::Error, body);
        s.streams_.erase(serial);
      });
    };
    ep->start(std::move(w));
  }

  void handleStreamPacket(const Header& h, std::string_view payload) {
    auto it = streams_.find(h.serial);
    // Packets for a stream we no longer know may still be in flight: drop.
    if (it == streams_.end() || it->second.proc != h.proc) return;
    StreamEndpointPtr ep = it->second.ep;
    if (h.type == MsgType::StreamHole) {
      xdr::Reader r(payload);
      uint64_t length = 0;
      uint32_t flags = 0;
      Result<void> res = Error::rpc(ErrorDomain::Rpc, "Unable to decode message payload");
      if (r.u64(length) && r.u32(flags) && r.atEnd()) res = ep->onClientHole(length);
      if (!res) {
        streams_.erase(it);
        ep->onClientAbort();
        std::string body;
        appendError(body, res.error());
        sendStreamPacket(h.proc, h.serial, MsgStatus::Error, body);
      }
      return;
    }
    switch (h.status) {
      case MsgStatus::Continue:
        ep->onClientData(payload);
        break;
      case MsgStatus::Ok: {
        streams_.erase(it);
        std::weak_ptr<Session> weak = shared_from_this();
        int proc = h.proc;
        uint32_t serial = h.serial;
        bool async = ep->finishAsync([weak, proc, serial](Result<void> r) {
          auto self = weak.lock();
          if (!self) return;
          asio::post(self->strand_, [self, proc, serial, r = std::move(r)] {
            if (self->closed_) return;
            if (r) {
              self->sendStreamPacket(proc, serial, MsgStatus::Ok, {});
            } else {
              std::string body;
              appendError(body, r.error());
              self->sendStreamPacket(proc, serial, MsgStatus::Error, body);
            }
          });
        });
        if (async) break;
        auto r = ep->onClientFinish();
        if (r) {
          sendStreamPacket(h.proc, h.serial, MsgStatus::Ok, {});
        } else {
          std::string body;
          appendError(body, r.error());
          sendStreamPacket(h.proc, h.serial, MsgStatus::Error, body);
        }
        break;
      }
      case MsgStatus::Error:
        streams_.erase(it);
        ep->onClientAbort();
        sendStreamPacket(h.proc, h.serial, MsgStatus::Ok, {});
        break;
    }
  }

  void queueMessage(int proc, std::string payload) {
    asio::post(strand_, [self = shared_from_this(), proc, payload = std::move(payload)] {
      // Events always carry serial 1 (protocol.md 0).
      Header h{protocol::kRemoteProgram, 1, proc, MsgType::Message, 1, MsgStatus::Ok};
      std::string pkt = startPacket(h, payload.size());
      pkt += payload;
      finishPacket(pkt);
      self->queue(std::move(pkt));
    });
  }

 public:
  void startKeepalive() {
    if (srv_.limits.keepaliveInterval <= 0 || keepaliveRunning_) return;
    keepaliveRunning_ = true;
    armKeepalive();
  }

 private:
  void armKeepalive() {
    keepalive_.expires_after(std::chrono::seconds(srv_.limits.keepaliveInterval));
    keepalive_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec || self->closed_) return;
      auto idle = std::chrono::steady_clock::now() - self->lastRx_;
      if (idle >= std::chrono::seconds(self->srv_.limits.keepaliveInterval)) {
        if (++self->missedPings_ > self->srv_.limits.keepaliveCount) {
          log::warn("client %llu: keepalive timeout", (unsigned long long)self->ctx_.clientId);
          return self->closeNow();
        }
        Header h{protocol::kKeepaliveProgram, 1, protocol::kKeepalivePing, MsgType::Message, 0, MsgStatus::Ok};
        std::string pkt = startPacket(h);
        finishPacket(pkt);
        self->queue(std::move(pkt));
      }
      self->armKeepalive();
    });
  }

  void queue(std::string pkt) {
    if (closed_ || closing_) return;
    wqBytes_ += pkt.size();
    queuedMirror_ = wqBytes_;
    wq_.push_back(std::move(pkt));
    if (wqBytes_ > srv_.limits.maxOutboundBytes) {
      log::warn("client %llu: outbound queue over limit, dropping", (unsigned long long)ctx_.clientId);
      if (!router_) return closeNow();
      // A router is in the middle of its own work: close once it returns.
      closing_ = true;
      return closeAsync();
    }
    if (!writing_) doWrite();
  }

  void doWrite() {
    writing_ = true;
    auto done = [self = shared_from_this()](const boost::system::error_code& ec, size_t) { self->onWrite(ec); };
    if (auto* secure = std::get_if<SecurePtr>(&stream_)) {
      // One packet per write, so that no TLS record holds the end of one
      // packet and the start of the next: libvirt's client reads one packet,
      // then waits in poll() and would not see the rest buffered in gnutls.
      nWriting_ = 1;
      (*secure)->asyncWrite(wq_.front().data(), wq_.front().size(), std::move(done));
      return;
    }
    nWriting_ = std::min<size_t>(wq_.size(), 64);
    bufs_.clear();
    for (size_t i = 0; i < nWriting_; ++i) bufs_.emplace_back(asio::buffer(wq_[i]));
    std::visit(
        [&](auto& s) {
          if constexpr (!std::is_same_v<std::decay_t<decltype(s)>, SecurePtr>)
            asio::async_write(s, bufs_, asio::bind_executor(strand_, std::move(done)));
        },
        stream_);
  }

  void onWrite(const boost::system::error_code& ec) {
    writing_ = false;
    if (ec) return closeNow();
    for (size_t i = 0; i < nWriting_; ++i) {
      wqBytes_ -= wq_.front().size();
      wq_.pop_front();
    }
    {
      std::lock_guard lk(drainMutex_);
      queuedMirror_ = wqBytes_;
    }
    drained_.notify_all();
    if (closed_) return;
    if (!wq_.empty()) return doWrite();
    if (!drainWaiters_.empty()) {
      auto waiters = std::move(drainWaiters_);
      drainWaiters_.clear();
      for (auto& fn : waiters) fn();
    }
  }

  Server::Impl& srv_;
  Strand strand_;
  ClientStream stream_;
  asio::steady_timer keepalive_;
  std::unique_ptr<asio::steady_timer> handshakeTimer_;
  bool handshook_ = false;
  PeerInfo peer_;
  std::unique_ptr<PacketRouter> router_;
  bool paused_ = false;
  bool inOnRead_ = false;
  bool closing_ = false;
  std::vector<std::function<void()>> drainWaiters_;
  ConnContext ctx_;
  std::vector<char> rbuf_;
  size_t rlen_ = 0;
  size_t need_ = 0;
  bool reading_ = false;
  bool closed_ = false;
  bool writing_ = false;
  bool keepaliveRunning_ = false;
  unsigned inflight_ = 0;
  unsigned missedPings_ = 0;
  std::chrono::steady_clock::time_point lastRx_ = std::chrono::steady_clock::now();
  std::deque<std::string> wq_;
  size_t wqBytes_ = 0;
  size_t nWriting_ = 0;
  std::vector<asio::const_buffer> bufs_;
  std::map<uint32_t, OpenStream> streams_;
  // For producers on other threads (stream back-pressure).
  std::mutex drainMutex_;
  std::condition_variable drained_;
  std::atomic<size_t> queuedMirror_{0};
  bool gone_ = false;

  friend struct Server::Impl;
};

void Server::Impl::addSession(const std::shared_ptr<Session>& s) {
  size_t n;
  {
    std::lock_guard lk(sessionsMutex);
    sessions.insert(s);
    n = sessions.size();
  }
  // The session's state belongs to its own I/O thread from the start.
  asio::post(s->strand(), [s] { s->start(); });
  if (clientObserver) clientObserver(n);
}

void Server::Impl::accept(size_t idx) {
  asio::io_context& target = *ios[nextIo++ % ios.size()];
  listeners[idx].unixAcceptor->async_accept(target, [this, idx, &target](const boost::system::error_code& ec,
                                                                         Socket sock) {
    if (stopping) return;
    if (!ec) {
      size_t n = count();
      if (n >= limits.maxClients)
        log::warn("too many clients (%zu), refusing connection", n);
      else
        addSession(std::make_shared<Session>(*this, target.get_executor(), std::move(sock), listeners[idx].kind,
                                             PeerInfo{}));
    } else if (ec == asio::error::operation_aborted) {
      return;
    }
    accept(idx);
  });
}

void Server::Impl::acceptTcp(size_t idx) {
  asio::io_context& target = *ios[nextIo++ % ios.size()];
  listeners[idx].tcpAcceptor->async_accept(target, [this, idx, &target](const boost::system::error_code& ec,
                                                                        TcpSocket sock) {
    if (stopping) return;
    if (!ec) {
      size_t n = count();
      boost::system::error_code ignored;
      PeerInfo peer;
      peer.transport = Transport::Tcp;
      auto ep = sock.remote_endpoint(ignored);
      if (!ignored) peer.address = ep.address().to_string() + ";" + std::to_string(ep.port());
      // Calls are small and answered one by one: never wait for Nagle.
      sock.set_option(asio::ip::tcp::no_delay(true), ignored);
      if (n >= limits.maxClients) {
        log::warn("too many clients (%zu), refusing connection from %s", n, peer.address.c_str());
      } else if (listeners[idx].secure) {
        auto secure = listeners[idx].secure(target.get_executor(), sock.release(ignored));
        if (secure)
          addSession(std::make_shared<Session>(*this, target.get_executor(), std::move(secure), listeners[idx].kind,
                                               std::move(peer)));
      } else {
        addSession(std::make_shared<Session>(*this, target.get_executor(), std::move(sock), listeners[idx].kind,
                                             std::move(peer)));
      }
    } else if (ec == asio::error::operation_aborted) {
      return;
    }
    acceptTcp(idx);
  });
}

void Server::Impl::removeSession(const std::shared_ptr<Session>& s) {
  size_t n;
  {
    std::lock_guard lk(sessionsMutex);
    sessions.erase(s);
    n = sessions.size();
  }
  if (clientObserver && !stopping) clientObserver(n);
}

Server::Server(ServerLimits limits, const Program& program) : impl_(std::make_unique<Impl>(limits, program)) {}
Server::~Server() {
  stop();
  impl_->blocking.join();
}

void Server::addListener(int fd, ListenerKind kind) {
  Impl::Listener l{kind, std::make_unique<Acceptor>(impl_->io, asio::local::stream_protocol(), fd), nullptr, {}};
  impl_->listeners.push_back(std::move(l));
}

void Server::addTcpListener(int fd, ListenerKind kind, SecureStreamFactory secure) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  auto proto = ss.ss_family == AF_INET6 ? asio::ip::tcp::v6() : asio::ip::tcp::v4();
  Impl::Listener l{kind, nullptr, std::make_unique<TcpAcceptor>(impl_->io, proto, fd), std::move(secure)};
  impl_->listeners.push_back(std::move(l));
}

void Server::setPacketRouter(PacketRouterFactory factory) { impl_->routerFactory = std::move(factory); }

void Server::addProgram(const Program& program) { impl_->extraPrograms.push_back(&program); }

void Server::setClientCountObserver(std::function<void(size_t)> fn) { impl_->clientObserver = std::move(fn); }

void Server::run() {
  for (size_t i = 0; i < impl_->listeners.size(); ++i) {
    if (impl_->listeners[i].unixAcceptor)
      impl_->accept(i);
    else
      impl_->acceptTcp(i);
  }
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  for (auto& c : impl_->ios) guards.push_back(asio::make_work_guard(*c));
  std::vector<std::thread> threads;
  for (size_t i = 1; i < impl_->ios.size(); ++i) threads.emplace_back([c = impl_->ios[i].get()] { c->run(); });
  impl_->io.run();
  for (auto& t : threads) t.join();
}

void Server::stop() {
  if (impl_->stopping.exchange(true)) return;
  asio::post(impl_->io, [this] {
    boost::system::error_code ec;
    for (auto& l : impl_->listeners) {
      if (l.unixAcceptor) l.unixAcceptor->close(ec);
      if (l.tcpAcceptor) l.tcpAcceptor->close(ec);
    }
    std::vector<std::shared_ptr<Session>> all;
    {
      std::lock_guard lk(impl_->sessionsMutex);
      all.assign(impl_->sessions.begin(), impl_->sessions.end());
    }
    for (auto& s : all) s->closeAsync();
    // Let the closes run on every context, then stop the loops.
    for (auto& c : impl_->ios) asio::post(*c, [c = c.get()] { asio::post(*c, [c] { c->stop(); }); });
  });
}

void Server::post(std::function<void()> fn) { asio::post(impl_->io, std::move(fn)); }

void Server::forEachClient(std::function<void(ConnContext&)> fn) {
  std::vector<std::shared_ptr<Session>> all;
  {
    std::lock_guard lk(impl_->sessionsMutex);
    all.assign(impl_->sessions.begin(), impl_->sessions.end());
  }
  for (auto& s : all) asio::post(s->strand(), [s, fn] { fn(s->ctx()); });
}

std::function<void()> Server::runAfter(std::chrono::milliseconds delay, std::function<void()> fn) {
  auto t = std::make_shared<asio::steady_timer>(impl_->io, delay);
  t->async_wait([t, fn = std::move(fn)](const boost::system::error_code& ec) {
    if (!ec) fn();
  });
  return [t, this] { asio::post(impl_->io, [t] { t->cancel(); }); };
}

size_t Server::clientCount() const { return impl_->count(); }

}  // namespace splitvirt::rpc
