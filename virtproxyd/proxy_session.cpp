#include "proxy_session.hpp"

#include "client_identity.hpp"
#include "protocol/connect_procs.hpp"
#include "protocol/qemu_procs.hpp"
#include "rpc/packet.hpp"
#include "rpc/sync_client.hpp"
#include "util/log.hpp"

namespace splitvirt::proxy {

using protocol::Family;
using protocol::Header;
using protocol::MsgStatus;
using protocol::MsgType;

namespace {

// A client whose calls queue up more than this toward one daemon stops
// being read until that daemon has taken them (and the other way round).
constexpr size_t kHighWater = 4u << 20;

// Connection procedures answered or rewritten here.
constexpr int kProcOpen = 1;
constexpr int kProcClose = 2;
constexpr int kProcSupportsFeature = 60;
constexpr int kProcAuthList = 66;
constexpr int kProcIsSecure = 149;
constexpr int kProcRegisterCloseCallback = 360;
constexpr int kProcUnregisterCloseCallback = 361;
constexpr int kProcConnectionClosed = 362;
constexpr int kProcSetIdentity = 419;

// virDrvFeature numbers (protocol.md 3.3) that describe the connection, not a driver.
constexpr int kFeatureFdPassing = 8;
constexpr int kFeatureProgramKeepalive = 10;
constexpr int kFeatureRemoteEventCallback = 14;
constexpr int kFeatureRemoteCloseCallback = 15;

constexpr int kCloseReasonEof = 1;  // VIR_CONNECT_CLOSE_REASON_EOF

// The LXC program has one procedure (protocol.md 1.3).
const protocol::ProcInfo kLxcOpenNamespace{1,     "DOMAIN_OPEN_NAMESPACE", "virDomainLxcOpenNamespace",
                                           Family::Domain, true, false, false, false};

const protocol::ProcInfo* procInfo(uint32_t prog, int proc) {
  if (prog == protocol::kRemoteProgram) return protocol::findRemoteProc(proc);
  if (prog == protocol::kQemuProgram)
    return proc >= 1 && proc <= protocol::kQemuProcMax ? &protocol::kQemuProcs[static_cast<size_t>(proc)] : nullptr;
  if (prog == protocol::kLxcProgram) return proc == 1 ? &kLxcOpenNamespace : nullptr;
  return nullptr;
}

bool knownProgram(uint32_t prog) {
  return prog == protocol::kRemoteProgram || prog == protocol::kQemuProgram || prog == protocol::kLxcProgram;
}

// The error domain libvirt reports a read-only refusal in (as rpc::Program does).
ErrorDomain readOnlyDomain(Family f) {
  switch (f) {
    case Family::Domain: return ErrorDomain::Domain;
    case Family::Network: return ErrorDomain::Network;
    case Family::Storage: return ErrorDomain::Storage;
    default: return ErrorDomain::None;
  }
}

Error decodeError() { return Error::rpc(ErrorDomain::Rpc, "Unable to decode message payload"); }

}  // namespace

ProxySession::ProxySession(rpc::ClientLink& client, const ProxySettings& settings)
    : client_(client), settings_(settings) {
  readonly_ = client_.ctx().readonly;
}

ProxySession::~ProxySession() {
  closed_ = true;
  backends_.clear();
}

void ProxySession::onClientClosed() {
  closed_ = true;
  // Closing our connections is how the daemons learn the client is gone.
  backends_.clear();
  primary_ = nullptr;
  streams_.clear();
  events_.clear();
}

// ------------------------------------------------------------------ client side

void ProxySession::onPacket(const Header& h, std::string_view packet) {
  if (closed_) return;
  switch (h.type) {
    case MsgType::Call:
      return handleCall(h, packet);
    case MsgType::CallWithFds:
      return replyError(h, Error::rpc(ErrorDomain::Rpc, "file descriptor passing is not supported"));
    case MsgType::Stream:
    case MsgType::StreamHole:
      return handleStreamPacket(h, packet);
    default:
      return;  // replies and messages from a client mean nothing
  }
}

void ProxySession::handleCall(const Header& h, std::string_view packet) {
  if (h.vers != protocol::kProgramVersion || !knownProgram(h.prog))
    return replyError(h, Error::rpc(ErrorDomain::Rpc, "Cannot find program " + std::to_string(h.prog) +
                                                          " version " + std::to_string(h.vers)));
  if (h.status != MsgStatus::Ok)
    return replyError(h, Error::rpc(ErrorDomain::Rpc,
                                    "Unexpected message status " + std::to_string(static_cast<int>(h.status))));
  if (h.prog == protocol::kRemoteProgram) {
    bool handled = false;
    handleRemoteLocal(h, packet, handled);
    if (handled) return;
  }
  const protocol::ProcInfo* info = procInfo(h.prog, h.proc);
  if (!info || info->number == 0 || info->isEvent)
    return replyError(h, Error::rpc(ErrorDomain::Rpc, "unknown procedure: " + std::to_string(h.proc)));
  if (!opened_) return replyError(h, Error::internal(ErrorDomain::Rpc, "hypervisor connection not open"));
  // The backend refuses too (its connection is read-only); refusing here
  // spares the round trip and holds even for a backend that would not.
  if (readonly_ && info->deniedReadOnly)
    return replyError(h, Error::operationDenied(readOnlyDomain(info->family),
                                                "read only access prevents " + std::string(info->api)));
  if (auto kind = rpc::deregisterKind(h.prog, h.proc)) return handleDeregister(h, packet, *kind);

  Backend* b = backendFor(info->family);
  if (!b) return replyError(h, Error::internal(ErrorDomain::Rpc, "hypervisor connection not open"));
  Pending p{h};
  if (auto kind = rpc::registerKind(h.prog, h.proc)) {
    p.kind = CallKind::Register;
    p.event = *kind;
  }
  if (info->opensStream) streams_[h.serial] = StreamRoute{b, h};
  forward(*b, h, packet, p);
}

void ProxySession::handleRemoteLocal(const Header& h, std::string_view packet, bool& handled) {
  std::string_view payload = packet.substr(rpc::kPacketHeaderBytes);
  handled = true;
  switch (h.proc) {
    case kProcAuthList: {
      protocol::AuthListRet r;
      r.types.push_back(0);  // REMOTE_AUTH_NONE: socket permissions / the TLS certificate decided
      return reply(h, xdr::encodeToString(r));
    }
    case 67: case 68: case 69: case 70:  // SASL and polkit: never offered by AUTH_LIST
      return replyError(h, Error::make(static_cast<ErrorCode>(45), ErrorDomain::Rpc, "authentication failed: %s",
                                       "authentication failed", std::string("unsupported authentication type")));
    case kProcSupportsFeature:
      return handleFeature(h, packet);
    case kProcOpen:
      return handleOpen(h, payload);
    case kProcClose:
      return handleClose(h);
    case kProcIsSecure: {
      // Secure = nobody can listen in: a local socket or TLS, not plain TCP.
      protocol::IntRet r{client_.peer().transport == rpc::Transport::Tcp ? 0 : 1};
      return reply(h, xdr::encodeToString(r));
    }
    case kProcRegisterCloseCallback:
    case kProcUnregisterCloseCallback:
      if (!opened_) return replyError(h, Error::internal(ErrorDomain::Rpc, "hypervisor connection not open"));
      closeCallback_ = h.proc == kProcRegisterCloseCallback;
      return reply(h, {});
    case kProcSetIdentity:
      if (!opened_) return replyError(h, Error::internal(ErrorDomain::Rpc, "hypervisor connection not open"));
      return handleSetIdentity(h, packet);
    default:
      handled = false;
  }
}

void ProxySession::handleFeature(const Header& h, std::string_view packet) {
  std::string_view payload = packet.substr(rpc::kPacketHeaderBytes);
  protocol::IntArg a;
  if (!xdr::decodeFromBytes(payload.data(), payload.size(), a)) return replyError(h, decodeError());
  auto answer = [&](int v) { reply(h, xdr::encodeToString(protocol::IntRet{v})); };
  switch (a.value) {
    case kFeatureProgramKeepalive:
      client_.ctx().keepaliveRequested = true;  // the session pings this client from now on
      return answer(1);
    case kFeatureRemoteEventCallback:
    case kFeatureRemoteCloseCallback:
      return answer(1);
    case kFeatureFdPassing:
      return answer(0);  // descriptors are not relayed
    default:
      // Driver features (migration, typed param strings...) are the
      // primary daemon's to answer; before open there is none: "no".
      if (!opened_) return answer(0);
      if (Backend* b = backendFor(Family::Connect)) return forward(*b, h, packet, Pending{h});
      return answer(0);
  }
}

void ProxySession::handleOpen(const Header& h, std::string_view payload) {
  if (opened_ || opening_) return replyError(h, Error::internal(ErrorDomain::Rpc, "connection already open"));
  protocol::ConnectOpenArgs a;
  if (!xdr::decodeFromBytes(payload.data(), payload.size(), a)) return replyError(h, decodeError());
  readonly_ = readonly_ || (a.flags & 1u);  // VIR_CONNECT_RO; the other bits are the client's own
  openCall_ = h;
  opening_ = true;
  const std::string name = a.name.value_or("");
  if (name.empty()) {
    auto order = daemon::hypervisorProbeOrder();
    probeLeft_.assign(order.begin(), order.end());
    probeFailures_.clear();
    probing_ = true;
    return probeNext();
  }
  auto uri = daemon::parseUri(name);
  const daemon::SplitDaemon* d = uri ? daemon::daemonForScheme(uri->scheme) : nullptr;
  // A host in the URI would make us a client of another machine: not ours to do.
  if (!d || !uri->host.empty()) {
    opening_ = false;
    return replyError(h, Error::noConnect(ErrorDomain::None, name));
  }
  primaryPath_ = uri->path.empty() ? "/system" : uri->path;
  startPrimary(*d, name);
}

void ProxySession::startPrimary(const daemon::SplitDaemon& d, std::string uri) {
  primaryDaemon_ = &d;
  primaryUri_ = uri;
  primary_ = &openBackend(d, std::move(uri), true, true);
}

void ProxySession::probeNext() {
  if (probeLeft_.empty()) {
    opening_ = false;
    probing_ = false;
    primaryDaemon_ = nullptr;
    std::string tried;
    for (const auto& f : probeFailures_) tried += (tried.empty() ? "" : "; ") + f;
    return replyError(openCall_,
                      Error::make(ErrorCode::NoConnect, ErrorDomain::None, "no connection driver available for %s",
                                  "no connection driver available",
                                  "an empty URI: no hypervisor daemon answered (" + tried +
                                      "); start one, e.g. 'systemctl start virtqemud.socket'"));
  }
  const daemon::SplitDaemon* d = probeLeft_.front();
  probeLeft_.erase(probeLeft_.begin());
  primaryPath_ = "/system";
  startPrimary(*d, std::string(d->scheme) + ":///system");
}

void ProxySession::handleClose(const Header& h) {
  reply(h, {});
  // The client closes its socket next; our connections end now.
  backends_.clear();
  primary_ = nullptr;
  primaryDaemon_ = nullptr;
  opened_ = opening_ = probing_ = false;
  client_.ctx().opened = false;
  streams_.clear();
  events_.clear();
  if (clientPauses_) {
    clientPauses_ = 0;
    client_.resumeReading();
  }
}

void ProxySession::handleSetIdentity(const Header& h, std::string_view packet) {
  // A (privileged) caller speaking for someone else: every daemon hears it,
  // including the ones opened later.
  identity_ = std::string(packet.substr(rpc::kPacketHeaderBytes));
  Backend* p = backendFor(Family::Connect);
  if (!p) return replyError(h, Error::internal(ErrorDomain::Rpc, "hypervisor connection not open"));
  for (auto& b : backends_)
    if (b.get() != p && b->openSent) sendInternal(*b, kProcSetIdentity, identity_);
  forward(*p, h, packet, Pending{h});
}

void ProxySession::handleDeregister(const Header& h, std::string_view packet, rpc::EventKind kind) {
  if (packet.size() < rpc::kFirstPayloadWord + 4) return replyError(h, decodeError());
  int clientId = static_cast<int>(rpc::readWord(packet, rpc::kFirstPayloadWord));
  const rpc::EventCallbackMap::Entry* e = events_.find(clientId);
  if (!e || e->kind != kind) {
    // Its daemon went away and took the registration with it: nothing to undo.
    if (events_.takeOrphan(clientId)) return reply(h, {});
    return replyError(h, Error::internal(ErrorDomain::Rpc, std::string(rpc::eventCallbackName(kind)) + " " +
                                                               std::to_string(clientId) + " not registered"));
  }
  Backend* b = static_cast<Backend*>(const_cast<void*>(e->backend));
  std::string pkt(packet);
  rpc::writeWord(pkt, rpc::kFirstPayloadWord, static_cast<uint32_t>(e->backendId));
  Pending p{h, CallKind::Deregister, kind, clientId};
  forward(*b, h, pkt, p);
}

void ProxySession::handleStreamPacket(const Header& h, std::string_view packet) {
  auto it = streams_.find(h.serial);
  // Data still in flight for a stream that has ended is dropped, as libvirt does.
  if (it == streams_.end() || it->second.call.proc != h.proc || it->second.call.prog != h.prog) return;
  Backend& b = *it->second.backend;
  b.link->send(std::string(packet));
  watchBackendQueue(b);
}

void ProxySession::reply(const Header& call, std::string_view payload) {
  Header r = call;
  r.type = MsgType::Reply;
  r.status = MsgStatus::Ok;
  toClient(rpc::makePacket(r, payload));
}

void ProxySession::replyError(const Header& call, const Error& e) { toClient(rpc::makeErrorReply(call, e)); }

void ProxySession::toClient(std::string&& packet) {
  if (closed_) return;
  client_.send(std::move(packet));
  // A client that does not keep up holds back its daemons, not our memory.
  if (!backendsPaused_ && client_.queuedBytes() > kHighWater) {
    backendsPaused_ = true;
    for (auto& b : backends_) b->link->pauseReading();
    client_.whenDrained([this] {
      backendsPaused_ = false;
      for (auto& b : backends_) b->link->resumeReading();
    });
  }
}

// ------------------------------------------------------------------ backends

ProxySession::Backend* ProxySession::backendFor(Family family) {
  if (!primaryDaemon_) return nullptr;
  // A hypervisor connection reaches the other families' daemons (protocol.md
  // 5.4); a connection to network:///system etc. serves only its own.
  const daemon::SplitDaemon* d = primaryDaemon_->hypervisor ? daemon::daemonForFamily(family) : nullptr;
  if (!d || d == primaryDaemon_) {
    // After the primary went away its next call reconnects.
    if (!primary_) primary_ = &openBackend(*primaryDaemon_, primaryUri_, true, false);
    return primary_;
  }
  for (auto& b : backends_)
    if (b->daemon == d && !b->primary) return b.get();
  return &openBackend(*d, std::string(d->scheme) + "://" + primaryPath_, false, false);
}

ProxySession::Backend& ProxySession::openBackend(const daemon::SplitDaemon& d, std::string uri, bool primary,
                                                 bool relayOpen) {
  auto b = std::make_unique<Backend>();
  b->daemon = &d;
  b->uri = std::move(uri);
  // A read-only client reaches the daemons on their read-only sockets too.
  b->socketPath = daemon::daemonSocketPath(settings_.runDir, d, readonly_);
  b->primary = primary;
  b->relayOpen = relayOpen;
  rpc::BackendLink::Handler& handler = *this;
  b->link = std::make_unique<rpc::BackendLink>(client_.executor(), b->socketPath, handler);
  Backend& ref = *b;
  backends_.push_back(std::move(b));
  if (backendsPaused_) ref.link->pauseReading();
  ref.link->connect();
  return ref;
}

ProxySession::Backend* ProxySession::find(const rpc::BackendLink& link) {
  for (auto& b : backends_)
    if (b->link.get() == &link) return b.get();
  return nullptr;
}

uint32_t ProxySession::sendInternal(Backend& b, int proc, std::string_view payload) {
  Header h{protocol::kRemoteProgram, protocol::kProgramVersion, proc, MsgType::Call, b.nextSerial++, MsgStatus::Ok};
  b.link->send(rpc::makePacket(h, payload));
  b.pending[h.serial] = Pending{h, CallKind::Internal};
  return h.serial;
}

void ProxySession::forward(Backend& b, const Header& h, std::string_view packet, Pending p) {
  b.pending[h.serial] = std::move(p);
  std::string pkt(packet);
  if (b.ready)
    b.link->send(std::move(pkt));
  else
    b.held.push_back(std::move(pkt));
  watchBackendQueue(b);
}

void ProxySession::watchBackendQueue(Backend& b) {
  if (b.pausedClient || b.link->queuedBytes() <= kHighWater) return;
  b.pausedClient = true;
  if (clientPauses_++ == 0) client_.pauseReading();
  Backend* bp = &b;
  b.link->whenDrained([this, bp] {
    bp->pausedClient = false;
    if (--clientPauses_ == 0) client_.resumeReading();
  });
}

void ProxySession::onBackendConnected(rpc::BackendLink& link, const Result<void>& r) {
  Backend* b = find(link);
  if (!b) return;
  if (!r) {
    Error e = daemon::daemonUnreachable(*b->daemon, r.error());
    if (b->relayOpen && probing_) {
      probeFailures_.push_back(std::string(b->daemon->name) + ": " + r.error().message);
      std::erase_if(backends_, [b](const auto& x) { return x.get() == b; });
      primary_ = nullptr;
      return probeNext();
    }
    return dropBackend(*b, e, std::nullopt);
  }
  // Open as the client asked (read-only included), then tell the daemon who
  // the caller is, before any of the caller's calls.
  protocol::ConnectOpenArgs open{b->uri, readonly_ ? 1u : 0u};
  uint32_t serial = b->relayOpen ? openCall_.serial : b->nextSerial++;
  Header oh{protocol::kRemoteProgram, protocol::kProgramVersion, kProcOpen, MsgType::Call, serial, MsgStatus::Ok};
  b->openSent = true;
  b->link->send(rpc::makePacket(oh, xdr::encodeToString(open)));
  b->pending[serial] = Pending{oh, CallKind::Open};
  sendInternal(*b, kProcSetIdentity, identityPayload());
}

void ProxySession::onOpenReply(Backend& b, const Header& h, std::string&& packet) {
  if (h.status == MsgStatus::Ok) {
    b.ready = true;
    auto held = std::move(b.held);
    b.held.clear();
    for (auto& p : held) b.link->send(std::move(p));
    watchBackendQueue(b);
    if (b.relayOpen) {
      b.relayOpen = false;
      opened_ = true;
      opening_ = probing_ = false;
      client_.ctx().opened = true;
      client_.ctx().uri = b.uri;
      toClient(std::move(packet));
    }
    return;
  }
  Error e = rpc::decodeRemoteError(std::string_view(packet).substr(rpc::kPacketHeaderBytes));
  if (b.relayOpen && probing_) {
    probeFailures_.push_back(std::string(b.daemon->name) + ": " + e.message);
    Backend* bp = &b;
    std::erase_if(backends_, [bp](const auto& x) { return x.get() == bp; });
    primary_ = nullptr;
    return probeNext();
  }
  if (b.relayOpen) {
    // The daemon's own refusal, unchanged (e.g. a wrong URI path).
    toClient(std::move(packet));
    b.relayOpen = false;
    opening_ = false;
    primaryDaemon_ = nullptr;
  }
  dropBackend(b, e, std::nullopt);
}

void ProxySession::onBackendPacket(rpc::BackendLink& link, const Header& h, std::string&& packet) {
  Backend* b = find(link);
  if (!b) return;
  if (h.prog == protocol::kKeepaliveProgram) {
    if (h.type == MsgType::Message && h.proc == protocol::kKeepalivePing) {
      Header pong{protocol::kKeepaliveProgram, 1, protocol::kKeepalivePong, MsgType::Message, 0, MsgStatus::Ok};
      b->link->send(rpc::makePacket(pong, {}));
    }
    return;
  }
  switch (h.type) {
    case MsgType::Reply:
    case MsgType::ReplyWithFds: {
      auto it = b->pending.find(h.serial);
      if (it == b->pending.end()) return;
      Pending p = std::move(it->second);
      b->pending.erase(it);
      switch (p.kind) {
        case CallKind::Internal:
          if (h.status != MsgStatus::Ok)
            log::warn("%s refused proc %d from the proxy: %s", std::string(b->daemon->name).c_str(), p.call.proc,
                      rpc::decodeRemoteError(std::string_view(packet).substr(rpc::kPacketHeaderBytes))
                          .message.c_str());
          return;
        case CallKind::Open:
          return onOpenReply(*b, h, std::move(packet));
        case CallKind::Register:
          if (h.status == MsgStatus::Ok && packet.size() >= rpc::kFirstPayloadWord + 4) {
            int backendId = static_cast<int>(rpc::readWord(packet, rpc::kFirstPayloadWord));
            int clientId = events_.add(b, p.event, backendId);
            rpc::writeWord(packet, rpc::kFirstPayloadWord, static_cast<uint32_t>(clientId));
          }
          break;
        case CallKind::Deregister:
          if (h.status == MsgStatus::Ok) events_.remove(p.clientCallbackId);
          break;
        case CallKind::Forwarded:
          if (h.status != MsgStatus::Ok) {
            auto s = streams_.find(h.serial);
            if (s != streams_.end() && s->second.backend == b) streams_.erase(s);
          }
          break;
      }
      return toClient(std::move(packet));
    }
    case MsgType::Message:
      return relayEvent(*b, h, std::move(packet));
    case MsgType::Stream:
    case MsgType::StreamHole: {
      auto s = streams_.find(h.serial);
      if (s == streams_.end() || s->second.backend != b) return;
      // Finish confirmed, abort confirmed or failed: the stream is over.
      if (h.type == MsgType::Stream && h.status != MsgStatus::Continue) streams_.erase(s);
      return toClient(std::move(packet));
    }
    default:
      return;
  }
}

void ProxySession::relayEvent(Backend& b, const Header& h, std::string&& packet) {
  // We never register for the daemons' close events; the client's are ours.
  if (h.prog == protocol::kRemoteProgram && h.proc == kProcConnectionClosed) return;
  if (auto kind = rpc::callbackEventKind(h.prog, h.proc)) {
    if (packet.size() < rpc::kFirstPayloadWord + 4) return;
    int backendId = static_cast<int>(rpc::readWord(packet, rpc::kFirstPayloadWord));
    auto clientId = events_.clientIdFor(&b, *kind, backendId);
    if (!clientId) return;  // deregistered meanwhile
    rpc::writeWord(packet, rpc::kFirstPayloadWord, static_cast<uint32_t>(*clientId));
  }
  toClient(std::move(packet));
}

void ProxySession::onBackendClosed(rpc::BackendLink& link, const Error& why) {
  Backend* b = find(link);
  if (!b) return;
  log::info("client %llu: %s connection closed: %s", (unsigned long long)client_.ctx().clientId,
            std::string(b->daemon->name).c_str(), why.message.c_str());
  if (b->relayOpen && probing_) {
    probeFailures_.push_back(std::string(b->daemon->name) + ": " + why.message);
    std::erase_if(backends_, [b](const auto& x) { return x.get() == b; });
    primary_ = nullptr;
    return probeNext();
  }
  dropBackend(*b, daemon::daemonConnectionLost(*b->daemon, b->socketPath), std::nullopt);
}

void ProxySession::dropBackend(Backend& b, const Error& clientError, const std::optional<Error>& openError) {
  Backend* bp = &b;
  if (b.relayOpen) {
    opening_ = false;
    primaryDaemon_ = nullptr;
    replyError(openCall_, openError ? *openError : clientError);
  }
  for (auto& [serial, p] : b.pending)
    if (p.kind != CallKind::Internal && p.kind != CallKind::Open) replyError(p.call, clientError);
  for (auto it = streams_.begin(); it != streams_.end();) {
    if (it->second.backend != bp) {
      ++it;
      continue;
    }
    // A stream whose opening call was still pending got its error above.
    if (!b.pending.count(it->first)) toClient(rpc::makeStreamError(it->second.call, clientError));
    it = streams_.erase(it);
  }
  events_.dropBackend(bp);
  if (b.pausedClient && --clientPauses_ == 0) client_.resumeReading();
  bool wasPrimary = bp == primary_;
  if (wasPrimary) primary_ = nullptr;
  std::erase_if(backends_, [bp](const auto& x) { return x.get() == bp; });
  // libvirt tells a client whose hypervisor connection dropped, if it asked.
  if (wasPrimary && opened_ && closeCallback_) {
    Header ev{protocol::kRemoteProgram, protocol::kProgramVersion, kProcConnectionClosed, MsgType::Message, 1,
              MsgStatus::Ok};
    toClient(rpc::makePacket(ev, xdr::encodeToString(protocol::IntArg{kCloseReasonEof})));
  }
}

const std::string& ProxySession::identityPayload() {
  if (identity_.empty()) identity_ = encodeClientIdentity(client_.ctx(), client_.peer());
  return identity_;
}

}  // namespace splitvirt::proxy
