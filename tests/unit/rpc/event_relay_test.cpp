#include "protocol/header.hpp"
#include "rpc/event_relay.hpp"

#include <doctest/doctest.h>

using namespace splitvirt;
using namespace splitvirt::rpc;

TEST_CASE("event relay: which procedures register, deregister and carry callback ids") {
  const uint32_t remote = protocol::kRemoteProgram, qemu = protocol::kQemuProgram;
  CHECK(registerKind(remote, 316) == EventKind::Domain);
  CHECK(registerKind(remote, 313) == EventKind::Network);
  CHECK(registerKind(remote, 368) == EventKind::StoragePool);
  CHECK(registerKind(qemu, 4) == EventKind::QemuMonitor);
  CHECK_FALSE(registerKind(remote, 167));  // legacy REGISTER_ANY: no callback ids
  CHECK_FALSE(registerKind(remote, 4));
  CHECK(deregisterKind(remote, 317) == EventKind::Domain);
  CHECK(deregisterKind(remote, 369) == EventKind::StoragePool);
  CHECK(deregisterKind(qemu, 5) == EventKind::QemuMonitor);
  CHECK_FALSE(deregisterKind(remote, 316));

  CHECK(callbackEventKind(remote, 318) == EventKind::Domain);  // DOMAIN_EVENT_CALLBACK_LIFECYCLE
  CHECK(callbackEventKind(remote, 339) == EventKind::Domain);  // BLOCK_JOB_2, callback form only
  CHECK(callbackEventKind(remote, 315) == EventKind::Network);
  CHECK(callbackEventKind(remote, 370) == EventKind::StoragePool);
  CHECK(callbackEventKind(remote, 373) == EventKind::StoragePool);
  CHECK(callbackEventKind(remote, 377) == EventKind::NodeDevice);
  CHECK(callbackEventKind(remote, 383) == EventKind::Secret);
  CHECK(callbackEventKind(qemu, 6) == EventKind::QemuMonitor);
  CHECK_FALSE(callbackEventKind(remote, 107));  // legacy DOMAIN_EVENT_LIFECYCLE
  CHECK_FALSE(callbackEventKind(remote, 316));  // a call, not an event
  CHECK_FALSE(callbackEventKind(remote, 362));  // CONNECT_EVENT_CONNECTION_CLOSED
  CHECK(eventCallbackName(EventKind::StoragePool) == "storage pool event callback");
}

TEST_CASE("event relay: client ids stay unique across backends") {
  int a = 0, b = 0;  // two backends
  EventCallbackMap m;
  int d0 = m.add(&a, EventKind::Domain, 0);
  int p0 = m.add(&b, EventKind::StoragePool, 0);  // the other daemon also hands out 0
  int d1 = m.add(&a, EventKind::Domain, 1);
  CHECK(d0 != p0);
  CHECK(d1 != d0);
  CHECK(m.clientIdFor(&a, EventKind::Domain, 0) == d0);
  CHECK(m.clientIdFor(&b, EventKind::StoragePool, 0) == p0);
  CHECK_FALSE(m.clientIdFor(&b, EventKind::Domain, 0));
  REQUIRE(m.find(p0));
  CHECK(m.find(p0)->backend == &b);
  CHECK(m.find(p0)->backendId == 0);

  m.remove(d0);
  CHECK_FALSE(m.find(d0));
  CHECK_FALSE(m.clientIdFor(&a, EventKind::Domain, 0));
  CHECK(m.add(&a, EventKind::Domain, 0) != d0);  // ids are never reused

  // A backend that went away: its ids become orphans, deregistered once.
  m.dropBackend(&a);
  CHECK_FALSE(m.find(d1));
  CHECK(m.find(p0));
  CHECK(m.takeOrphan(d1));
  CHECK_FALSE(m.takeOrphan(d1));
  CHECK_FALSE(m.takeOrphan(p0));
  CHECK(m.size() == 1);
}
