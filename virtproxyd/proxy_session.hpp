// One client of virtproxyd: its CONNECT_OPEN picks the primary daemon, and
// from then on every packet goes to the daemon owning its procedure family
// over this client's own backend connections, undecoded. Only open/close,
// identity, feature queries, event callback ids and stream routing are
// handled here (architecture.md 3.4).
#pragma once

#include "daemon/daemon_sockets.hpp"
#include "rpc/backend_link.hpp"
#include "rpc/event_relay.hpp"
#include "rpc/packet_router.hpp"

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace splitvirt::proxy {

struct ProxySettings {
  std::string runDir;  // where the daemons' sockets are: <runDir>/<daemon>-sock
};

class ProxySession final : public rpc::PacketRouter, private rpc::BackendLink::Handler {
 public:
  ProxySession(rpc::ClientLink& client, const ProxySettings& settings);
  ~ProxySession() override;

  void onPacket(const protocol::Header& h, std::string_view packet) override;
  void onClientClosed() override;

 private:
  enum class CallKind : uint8_t { Forwarded, Open, Register, Deregister, Internal };

  // A call in flight on a backend, kept to answer it if the backend goes away.
  struct Pending {
    protocol::Header call;
    CallKind kind = CallKind::Forwarded;
    rpc::EventKind event = rpc::EventKind::Domain;
    int clientCallbackId = -1;
  };

  struct Backend {
    const daemon::SplitDaemon* daemon = nullptr;
    std::string uri;
    std::string socketPath;
    bool primary = false;
    bool relayOpen = false;  // the open answers the client's own CONNECT_OPEN
    bool ready = false;
    bool openSent = false;
    uint32_t nextSerial = 0x80000000u;  // the proxy's own calls, clear of the client's serials
    std::unique_ptr<rpc::BackendLink> link;
    std::vector<std::string> held;  // client packets waiting for the open
    std::unordered_map<uint32_t, Pending> pending;
    bool pausedClient = false;
  };

  struct StreamRoute {
    Backend* backend;
    protocol::Header call;
  };

  // BackendLink::Handler
  void onBackendConnected(rpc::BackendLink& link, const Result<void>& r) override;
  void onBackendPacket(rpc::BackendLink& link, const protocol::Header& h, std::string&& packet) override;
  void onBackendClosed(rpc::BackendLink& link, const Error& why) override;

  // Client side.
  void handleCall(const protocol::Header& h, std::string_view packet);
  void handleRemoteLocal(const protocol::Header& h, std::string_view packet, bool& handled);
  void handleOpen(const protocol::Header& h, std::string_view payload);
  void handleClose(const protocol::Header& h);
  void handleFeature(const protocol::Header& h, std::string_view packet);
  void handleSetIdentity(const protocol::Header& h, std::string_view packet);
  void handleDeregister(const protocol::Header& h, std::string_view packet, rpc::EventKind kind);
  void handleStreamPacket(const protocol::Header& h, std::string_view packet);
  void reply(const protocol::Header& call, std::string_view payload);
  void replyError(const protocol::Header& call, const Error& e);
  void toClient(std::string&& packet);

  // Backends.
  Backend* backendFor(protocol::Family family);
  Backend& openBackend(const daemon::SplitDaemon& d, std::string uri, bool primary, bool relayOpen);
  void startPrimary(const daemon::SplitDaemon& d, std::string uri);
  void probeNext();
  void forward(Backend& b, const protocol::Header& h, std::string_view packet, Pending p);
  uint32_t sendInternal(Backend& b, int proc, std::string_view payload);
  void onOpenReply(Backend& b, const protocol::Header& h, std::string&& packet);
  void relayEvent(Backend& b, const protocol::Header& h, std::string&& packet);
  // The backend is gone: answer everything it owed the client, forget it.
  void dropBackend(Backend& b, const Error& clientError, const std::optional<Error>& openError);
  Backend* find(const rpc::BackendLink& link);
  const std::string& identityPayload();
  void watchBackendQueue(Backend& b);

  rpc::ClientLink& client_;
  const ProxySettings& settings_;
  std::vector<std::unique_ptr<Backend>> backends_;
  Backend* primary_ = nullptr;
  const daemon::SplitDaemon* primaryDaemon_ = nullptr;
  std::string primaryUri_;   // as resolved (probing fills it in)
  std::string primaryPath_;  // "/system" or "/session": the secondaries' path
  bool opening_ = false;
  bool opened_ = false;
  bool readonly_ = false;
  bool closed_ = false;
  bool closeCallback_ = false;
  protocol::Header openCall_;
  // Empty-URI probing: candidates left and why the others failed.
  std::vector<const daemon::SplitDaemon*> probeLeft_;
  std::vector<std::string> probeFailures_;
  bool probing_ = false;
  std::string identity_;  // encoded CONNECT_SET_IDENTITY args for new backends
  rpc::EventCallbackMap events_;
  std::map<uint32_t, StreamRoute> streams_;
  unsigned clientPauses_ = 0;
  bool backendsPaused_ = false;
};

}  // namespace splitvirt::proxy
