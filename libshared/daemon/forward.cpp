#include "daemon/forward.hpp"

#include "daemon/forward_events.hpp"
#include "protocol/connect_procs.hpp"
#include "rpc/sync_client.hpp"
#include "util/log.hpp"

#include <condition_variable>
#include <thread>

namespace splitvirt::daemon {

using protocol::Header;
using protocol::MsgStatus;
using protocol::MsgType;

namespace {

Result<std::shared_ptr<rpc::SyncClient>> openBackend(const rpc::ConnContext& ctx, const ForwardTarget& t) {
  auto c = openBackendAs(ctx, t);
  if (!c) return c.error();
  return std::shared_ptr<rpc::SyncClient>(std::move(*c));
}

Result<std::shared_ptr<rpc::SyncClient>> backendFor(rpc::ConnContext& ctx, const ForwardTarget& t) {
  std::lock_guard lk(ctx.backendsMutex);
  auto& slot = ctx.backends[t.socketPath];
  if (slot) return std::static_pointer_cast<rpc::SyncClient>(slot);
  auto c = openBackend(ctx, t);
  if (!c) return c.error();
  slot = *c;
  return *c;
}

// A stream relayed between our client and the backend, on a backend
// connection of its own (its reader thread owns that connection).
class RelayStream final : public rpc::StreamEndpoint, public std::enable_shared_from_this<RelayStream> {
 public:
  RelayStream(std::shared_ptr<rpc::SyncClient> c, int proc, uint32_t serial)
      : backend_(std::move(c)), proc_(proc), serial_(serial) {}
  ~RelayStream() override {
    backend_->shutdown();
    if (reader_.joinable()) {
      if (reader_.get_id() == std::this_thread::get_id())
        reader_.detach();
      else
        reader_.join();
    }
  }

  void start(rpc::StreamWriter w) override {
    writer_ = std::move(w);
    reader_ = std::thread([self = shared_from_this()] { self->readLoop(); });
  }
  void onClientData(std::string_view data) override { send(MsgType::Stream, MsgStatus::Continue, data); }
  Result<void> onClientHole(uint64_t length) override {
    std::string body;
    xdr::Writer w(body);
    w.u64(length);
    w.u32(0);
    send(MsgType::StreamHole, MsgStatus::Continue, body);
    return {};
  }
  Result<void> onClientFinish() override {
    send(MsgType::Stream, MsgStatus::Ok, {});
    std::unique_lock lk(m_);
    cv_.wait_for(lk, std::chrono::minutes(5), [&] { return finished_; });
    if (finishError_) return *finishError_;
    return {};
  }
  // Waiting for the backend's confirmation must not hold our I/O thread.
  bool finishAsync(std::function<void(Result<void>)> done) override {
    std::thread([self = shared_from_this(), done = std::move(done)] { done(self->onClientFinish()); }).detach();
    return true;
  }
  void onClientAbort() override {
    send(MsgType::Stream, MsgStatus::Error, {});
    backend_->shutdown();
  }

 private:
  void send(MsgType type, MsgStatus status, std::string_view payload) {
    Header h{protocol::kRemoteProgram, 1, proc_, type, serial_, status};
    (void)backend_->sendPacket(h, payload);
  }
  void done(std::optional<Error> e) {
    std::lock_guard lk(m_);
    finished_ = true;
    finishError_ = std::move(e);
    cv_.notify_all();
  }
  void readLoop() {
    for (;;) {
      auto p = backend_->readPacket();
      if (!p) return done(p.error());
      const Header& h = p->header;
      if (h.serial != serial_ || (h.type != MsgType::Stream && h.type != MsgType::StreamHole)) continue;
      if (h.type == MsgType::StreamHole) {
        xdr::Reader r(p->payload);
        uint64_t len = 0;
        if (r.u64(len)) writer_.hole(len);
        continue;
      }
      if (h.status == MsgStatus::Continue) {
        if (p->payload.empty()) {
          writer_.eof();
          continue;
        }
        if (!writer_.waitWritable(8u << 20)) return done(std::nullopt);
        writer_.data(std::move(p->payload));
      } else if (h.status == MsgStatus::Ok) {
        return done(std::nullopt);  // the backend confirmed the finish
      } else {
        Error e = rpc::decodeRemoteError(p->payload);
        writer_.error(e);
        return done(e);
      }
    }
  }

  std::shared_ptr<rpc::SyncClient> backend_;
  int proc_;
  uint32_t serial_;
  rpc::StreamWriter writer_;
  std::thread reader_;
  std::mutex m_;
  std::condition_variable cv_;
  bool finished_ = false;
  std::optional<Error> finishError_;
};

}  // namespace

Result<std::unique_ptr<rpc::SyncClient>> openBackendAs(const rpc::ConnContext& ctx, const ForwardTarget& t) {
  auto c = rpc::SyncClient::connect(t.socketPath);
  if (!c) return c.error();
  std::unique_ptr<rpc::SyncClient> client = std::move(*c);
  if (auto r = client->call(protocol::kAuthList, xdr::Void{}); !r) return r.error();
  protocol::ConnectOpenArgs open{t.uri, ctx.readonly ? 1u : 0u};
  if (auto r = client->call(protocol::kConnectOpen, open); !r) return r.error();
  protocol::SetIdentityArgs id;
  if (ctx.uid != static_cast<uid_t>(-1)) id.params.push_back({"unix-user-id", xdr::TypedParamValue(uint64_t(ctx.uid))});
  if (ctx.gid != static_cast<gid_t>(-1)) id.params.push_back({"unix-group-id", xdr::TypedParamValue(uint64_t(ctx.gid))});
  if (ctx.pid > 0) id.params.push_back({"process-id", xdr::TypedParamValue(int64_t(ctx.pid))});
  if (auto r = client->call(protocol::kConnectSetIdentity, id); !r) return r.error();
  return client;
}

void bindForwarding(rpc::Program& program, const ForwardTarget& target) {
  bindEventForwarding(program, target);
  for (const auto& info : protocol::kRemoteProcs) {
    if (info.number == 0 || info.family != target.family || info.isEvent) continue;
    if (program.find(info.number)) continue;  // the daemon serves it itself
    // Other registrations (the legacy domain ones) are never forwarded.
    if (info.isEventRegistration) continue;
    const int proc = info.number;
    if (info.opensStream) {
      program.bindRaw(proc, true, [target, proc](rpc::ConnContext& ctx, std::string_view payload, std::string&,
                                                 rpc::StreamEndpointPtr& stream) -> Result<void> {
        auto c = openBackend(ctx, target);  // streams get a connection of their own
        if (!c) return c.error();
        constexpr uint32_t kSerial = 1000;  // the only call on this connection
        Header h{protocol::kRemoteProgram, 1, proc, MsgType::Call, kSerial, MsgStatus::Ok};
        if (auto r = (*c)->sendPacket(h, payload); !r) return r.error();
        for (;;) {
          auto p = (*c)->readPacket();
          if (!p) return p.error();
          if (p->header.type != MsgType::Reply || p->header.serial != kSerial) continue;
          if (p->header.status == MsgStatus::Error) return rpc::decodeRemoteError(p->payload);
          break;
        }
        stream = std::make_shared<RelayStream>(*c, proc, kSerial);
        return {};
      });
      continue;
    }
    program.bindRaw(proc, true, [target, proc](rpc::ConnContext& ctx, std::string_view payload, std::string& out,
                                               rpc::StreamEndpointPtr&) -> Result<void> {
      auto c = backendFor(ctx, target);
      if (!c) return c.error();
      auto r = (*c)->callRaw(protocol::kRemoteProgram, proc, payload);
      if (!r) {
        // A dead backend connection is reopened on the next call.
        if (r.error().domain == ErrorDomain::Rpc) {
          std::lock_guard lk(ctx.backendsMutex);
          ctx.backends.erase(target.socketPath);
        }
        return r.error();
      }
      out += *r;
      return {};
    });
  }
}

}  // namespace splitvirt::daemon
