// Per-client connection state that handlers see.
#pragma once

#include "xdr/types.hpp"

#include <sys/types.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace splitvirt::rpc {

enum class ListenerKind { ReadWrite, ReadOnly, Admin };

// Sends an asynchronous MESSAGE packet (an event) to this client; safe to
// call from any thread, dropped if the client is gone.
using MessageSender = std::function<void(int proc, std::string payload)>;

struct DomainEventRegistration {
  int eventId;
  std::optional<xdr::Uuid> domainFilter;
};

// Storage pool / network registrations: an event id and an optional object.
struct ObjectEventRegistration {
  int eventId;
  std::optional<xdr::Uuid> objectFilter;
};

struct ConnContext {
  ListenerKind listener = ListenerKind::ReadWrite;
  bool opened = false;
  bool readonly = false;
  bool closeCallbackRegistered = false;
  bool keepaliveRequested = false;
  std::string uri;
  uid_t uid = static_cast<uid_t>(-1);
  gid_t gid = static_cast<gid_t>(-1);
  pid_t pid = 0;
  uint64_t clientId = 0;

  // Event registrations: callbackID -> registration. Guarded because events
  // are produced on other threads than the session's.
  std::mutex eventsMutex;
  std::map<int, DomainEventRegistration> domainEvents;
  std::map<int, ObjectEventRegistration> poolEvents;
  std::map<int, ObjectEventRegistration> networkEvents;
  int nextCallbackId = 0;

  MessageSender sendMessage;

  // Connections this client's calls are forwarded on (one per sibling
  // daemon), opened on first use; gone with the client.
  std::mutex backendsMutex;
  std::map<std::string, std::shared_ptr<void>> backends;
};

}  // namespace splitvirt::rpc
