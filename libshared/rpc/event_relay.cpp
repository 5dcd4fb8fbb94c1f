#include "rpc/event_relay.hpp"

#include "protocol/header.hpp"
#include "protocol/proc_table.hpp"

namespace splitvirt::rpc {

std::string_view eventCallbackName(EventKind k) {
  switch (k) {
    case EventKind::Domain: return "domain event callback";
    case EventKind::Network: return "network event callback";
    case EventKind::StoragePool: return "storage pool event callback";
    case EventKind::NodeDevice: return "node device event callback";
    case EventKind::Secret: return "node device event callback";  // sic, libvirt 9.0's text
    case EventKind::QemuMonitor: return "qemu monitor event callback";
  }
  return "event callback";
}

std::optional<EventKind> registerKind(uint32_t prog, int proc) {
  if (prog == protocol::kQemuProgram) return proc == 4 ? std::optional(EventKind::QemuMonitor) : std::nullopt;
  if (prog != protocol::kRemoteProgram) return std::nullopt;
  switch (proc) {
    case 316: return EventKind::Domain;
    case 313: return EventKind::Network;
    case 368: return EventKind::StoragePool;
    case 374: return EventKind::NodeDevice;
    case 380: return EventKind::Secret;
    default: return std::nullopt;
  }
}

std::optional<EventKind> deregisterKind(uint32_t prog, int proc) {
  if (prog == protocol::kQemuProgram) return proc == 5 ? std::optional(EventKind::QemuMonitor) : std::nullopt;
  if (prog != protocol::kRemoteProgram) return std::nullopt;
  switch (proc) {
    case 317: return EventKind::Domain;
    case 314: return EventKind::Network;
    case 369: return EventKind::StoragePool;
    case 375: return EventKind::NodeDevice;
    case 381: return EventKind::Secret;
    default: return std::nullopt;
  }
}

std::optional<EventKind> callbackEventKind(uint32_t prog, int proc) {
  if (prog == protocol::kQemuProgram) return proc == 6 ? std::optional(EventKind::QemuMonitor) : std::nullopt;
  if (prog != protocol::kRemoteProgram) return std::nullopt;
  const protocol::ProcInfo* info = protocol::findRemoteProc(proc);
  // The callback forms start at NETWORK_EVENT_LIFECYCLE (313 is its
  // registration); every event message from there on carries the id.
  if (!info || !info->isEvent || proc < 313) return std::nullopt;
  switch (info->family) {
    case protocol::Family::Domain: return EventKind::Domain;
    case protocol::Family::Network: return EventKind::Network;
    case protocol::Family::Storage: return EventKind::StoragePool;
    case protocol::Family::NodeDev: return EventKind::NodeDevice;
    case protocol::Family::Secret: return EventKind::Secret;
    default: return std::nullopt;
  }
}

int EventCallbackMap::add(BackendId backend, EventKind kind, int backendCallbackId) {
  int id = next_++;
  byClient_[id] = Entry{backend, kind, backendCallbackId};
  byBackend_[{backend, kind, backendCallbackId}] = id;
  return id;
}

const EventCallbackMap::Entry* EventCallbackMap::find(int clientId) const {
  auto it = byClient_.find(clientId);
  return it == byClient_.end() ? nullptr : &it->second;
}

std::optional<int> EventCallbackMap::clientIdFor(BackendId backend, EventKind kind, int backendCallbackId) const {
  auto it = byBackend_.find({backend, kind, backendCallbackId});
  if (it == byBackend_.end()) return std::nullopt;
  return it->second;
}

void EventCallbackMap::remove(int clientId) {
  auto it = byClient_.find(clientId);
  if (it == byClient_.end()) return;
  byBackend_.erase({it->second.backend, it->second.kind, it->second.backendId});
  byClient_.erase(it);
}

void EventCallbackMap::dropBackend(BackendId backend) {
  for (auto it = byClient_.begin(); it != byClient_.end();) {
    if (it->second.backend == backend) {
      byBackend_.erase({backend, it->second.kind, it->second.backendId});
      orphans_.insert(it->first);
      it = byClient_.erase(it);
    } else {
      ++it;
    }
  }
}

bool EventCallbackMap::takeOrphan(int clientId) { return orphans_.erase(clientId) > 0; }

void EventCallbackMap::clear() {
  byClient_.clear();
  byBackend_.clear();
  orphans_.clear();
}

}  // namespace splitvirt::rpc
