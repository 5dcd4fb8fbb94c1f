// Relaying event callbacks across several backend connections (virtproxyd):
// which procedures register and deregister callbacks, which event messages
// carry a callback id, and the map between the ids the client sees and the
// ids each backend handed out. Ids stay unique toward the client even when
// domain events come from one daemon and network events from another.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string_view>
#include <tuple>

namespace splitvirt::rpc {

enum class EventKind : uint8_t { Domain, Network, StoragePool, NodeDevice, Secret, QemuMonitor };

// "domain event callback", as libvirt names it in its errors.
std::string_view eventCallbackName(EventKind k);

// The callback-registration procedures: args start with the event id, the
// reply is `int callbackID` (REMOTE 316/313/368/374/380, QEMU 4).
std::optional<EventKind> registerKind(uint32_t prog, int proc);
// Their counterparts, whose args are `int callbackID`.
std::optional<EventKind> deregisterKind(uint32_t prog, int proc);
// Event messages whose payload starts with `int callbackID`; the legacy
// domain events (procs below 313) have none.
std::optional<EventKind> callbackEventKind(uint32_t prog, int proc);

class EventCallbackMap {
 public:
  using BackendId = const void*;
  struct Entry {
    BackendId backend;
    EventKind kind;
    int backendId;
  };

  // A backend registration; returns the id the client sees.
  int add(BackendId backend, EventKind kind, int backendCallbackId);
  const Entry* find(int clientId) const;
  std::optional<int> clientIdFor(BackendId backend, EventKind kind, int backendCallbackId) const;
  void remove(int clientId);
  // The backend went away with its registrations; the client may still
  // deregister them (an "orphan" id), which then succeeds without it.
  void dropBackend(BackendId backend);
  bool takeOrphan(int clientId);
  void clear();
  size_t size() const { return byClient_.size(); }

 private:
  int next_ = 0;
  std::map<int, Entry> byClient_;
  std::map<std::tuple<BackendId, EventKind, int>, int> byBackend_;
  std::set<int> orphans_;
};

}  // namespace splitvirt::rpc
