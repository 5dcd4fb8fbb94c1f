#include "daemon/forward_events.hpp"

#include "protocol/connect_procs.hpp"
#include "rpc/event_relay.hpp"
#include "rpc/sync_client.hpp"
#include "util/log.hpp"

#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

namespace splitvirt::daemon {

using protocol::Header;
using protocol::MsgStatus;
using protocol::MsgType;

namespace {

uint32_t firstWord(std::string_view p) {
  if (p.size() < 4) return 0;
  return (uint32_t(uint8_t(p[0])) << 24) | (uint32_t(uint8_t(p[1])) << 16) | (uint32_t(uint8_t(p[2])) << 8) |
         uint32_t(uint8_t(p[3]));
}

void setFirstWord(std::string& p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>(v >> (24 - 8 * i));
}

std::string word(uint32_t v) {
  std::string s(4, '\0');
  setFirstWord(s, v);
  return s;
}

// One client's event connection to one sibling daemon. A reader thread owns
// the incoming side: replies go to the caller waiting for them, events go
// to the client with their ids translated.
class EventLink {
 public:
  EventLink(std::unique_ptr<rpc::SyncClient> c, rpc::MessageSender send)
      : c_(std::move(c)), send_(std::move(send)) {
    reader_ = std::thread([this] { readLoop(); });
  }
  ~EventLink() {
    c_->shutdown();
    reader_.join();
  }
  EventLink(const EventLink&) = delete;
  EventLink& operator=(const EventLink&) = delete;

  Result<std::string> call(int proc, std::string_view args) {
    std::unique_lock lk(m_);
    const uint32_t serial = nextSerial_++;
    Header h{protocol::kRemoteProgram, 1, proc, MsgType::Call, serial, MsgStatus::Ok};
    if (dead_) return *dead_;
    if (auto r = c_->sendPacket(h, args); !r) return r.error();
    if (!cv_.wait_for(lk, std::chrono::seconds(30), [&] { return replies_.count(serial) || dead_; }))
      return Error::rpc(ErrorDomain::Rpc, "no reply from " + c_->socketPath());
    auto it = replies_.find(serial);
    if (it == replies_.end()) return *dead_;
    rpc::RawReply reply = std::move(it->second);
    replies_.erase(it);
    if (reply.header.status == MsgStatus::Error) return rpc::decodeRemoteError(reply.payload);
    return std::move(reply.payload);
  }

  void map(int backendId, int clientId) {
    std::lock_guard lk(m_);
    toClient_[backendId] = clientId;
  }
  std::optional<int> unmap(int clientId) {
    std::lock_guard lk(m_);
    for (auto it = toClient_.begin(); it != toClient_.end(); ++it)
      if (it->second == clientId) {
        int backendId = it->first;
        toClient_.erase(it);
        return backendId;
      }
    return std::nullopt;
  }
  bool alive() {
    std::lock_guard lk(m_);
    return !dead_;
  }

 private:
  void readLoop() {
    for (;;) {
      auto p = c_->readPacket();
      if (!p) {
        std::lock_guard lk(m_);
        dead_ = p.error();
        cv_.notify_all();
        return;
      }
      if (p->header.type == MsgType::Reply) {
        std::lock_guard lk(m_);
        replies_[p->header.serial] = std::move(*p);
        cv_.notify_all();
        continue;
      }
      if (p->header.type != MsgType::Message ||
          !rpc::callbackEventKind(p->header.prog, p->header.proc) || p->payload.size() < 4)
        continue;
      std::optional<int> clientId;
      {
        std::lock_guard lk(m_);
        auto it = toClient_.find(static_cast<int>(firstWord(p->payload)));
        if (it != toClient_.end()) clientId = it->second;
      }
      if (!clientId) continue;  // deregistered meanwhile
      setFirstWord(p->payload, static_cast<uint32_t>(*clientId));
      send_(p->header.proc, std::move(p->payload));
    }
  }

  std::unique_ptr<rpc::SyncClient> c_;
  rpc::MessageSender send_;
  std::thread reader_;
  std::mutex m_;
  std::condition_variable cv_;
  uint32_t nextSerial_ = 1;
  std::map<uint32_t, rpc::RawReply> replies_;
  std::optional<Error> dead_;
  std::map<int, int> toClient_;  // backend callback id -> the client's
};

std::string linkKey(const ForwardTarget& t) { return t.socketPath + "#events"; }

Result<std::shared_ptr<EventLink>> eventLinkFor(rpc::ConnContext& ctx, const ForwardTarget& t) {
  std::lock_guard lk(ctx.backendsMutex);
  auto& slot = ctx.backends[linkKey(t)];
  if (slot) {
    auto link = std::static_pointer_cast<EventLink>(slot);
    if (link->alive()) return link;
    slot.reset();  // the daemon went away with our registrations
  }
  auto c = openBackendAs(ctx, t);
  if (!c) return c.error();
  auto link = std::make_shared<EventLink>(std::move(*c), ctx.sendMessage);
  slot = link;
  return link;
}

std::shared_ptr<EventLink> existingLink(rpc::ConnContext& ctx, const ForwardTarget& t) {
  std::lock_guard lk(ctx.backendsMutex);
  auto it = ctx.backends.find(linkKey(t));
  return it == ctx.backends.end() ? nullptr : std::static_pointer_cast<EventLink>(it->second);
}

}  // namespace

void bindEventForwarding(rpc::Program& program, const ForwardTarget& target) {
  for (const auto& info : protocol::kRemoteProcs) {
    if (info.number == 0 || info.family != target.family || program.find(info.number)) continue;
    const int proc = info.number;
    if (auto kind = rpc::registerKind(protocol::kRemoteProgram, proc)) {
      program.bindRaw(proc, true, [target, proc](rpc::ConnContext& ctx, std::string_view payload, std::string& out,
                                                 rpc::StreamEndpointPtr&) -> Result<void> {
        auto link = eventLinkFor(ctx, target);
        if (!link) return link.error();
        auto r = (*link)->call(proc, payload);
        if (!r) return r.error();
        if (r->size() < 4) return Error::rpc(ErrorDomain::Rpc, "Unable to decode message payload");
        int clientId;
        {
          std::lock_guard lk(ctx.eventsMutex);
          clientId = ctx.nextCallbackId++;
        }
        (*link)->map(static_cast<int>(firstWord(*r)), clientId);
        out += word(static_cast<uint32_t>(clientId));
        return {};
      });
    } else if (auto dkind = rpc::deregisterKind(protocol::kRemoteProgram, proc)) {
      program.bindRaw(proc, true, [target, proc, k = *dkind](rpc::ConnContext& ctx, std::string_view payload,
                                                             std::string&, rpc::StreamEndpointPtr&) -> Result<void> {
        const int clientId = static_cast<int>(firstWord(payload));
        auto link = existingLink(ctx, target);
        std::optional<int> backendId = link ? link->unmap(clientId) : std::nullopt;
        if (!backendId)
          return Error::internal(ErrorDomain::Rpc, std::string(rpc::eventCallbackName(k)) + " " +
                                                       std::to_string(clientId) + " not registered");
        // A daemon that went away took the registration with it.
        if (!link->alive()) return {};
        auto r = link->call(proc, word(static_cast<uint32_t>(*backendId)));
        if (!r) return r.error();
        return {};
      });
    }
  }
}

}  // namespace splitvirt::daemon
