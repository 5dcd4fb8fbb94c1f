#include "daemon/daemon_sockets.hpp"

#include <doctest/doctest.h>

using namespace splitvirt;
using namespace splitvirt::daemon;

TEST_CASE("URI parsing as virtproxyd needs it") {
  auto u = parseUri("qemu:///system");
  REQUIRE(u);
  CHECK(u->scheme == "qemu");
  CHECK(u->host.empty());
  CHECK(u->path == "/system");
  u = parseUri("qemu+tls://host.example:16514/system?pkipath=/x&y=1");
  REQUIRE(u);
  CHECK(u->scheme == "qemu");
  CHECK(u->transport == "tls");
  CHECK(u->host == "host.example:16514");
  CHECK(u->path == "/system");
  CHECK(u->query == "pkipath=/x&y=1");
  u = parseUri("storage:///session");
  REQUIRE(u);
  CHECK(u->path == "/session");
  CHECK_FALSE(parseUri("nocolon"));
  CHECK_FALSE(parseUri(":///x"));
}

TEST_CASE("daemons by scheme and family, probe order, paths, units") {
  REQUIRE(daemonForScheme("qemu"));
  CHECK(daemonForScheme("qemu")->name == "virtqemud");
  CHECK(daemonForScheme("qemu")->hypervisor);
  CHECK(daemonForScheme("network")->name == "virtnetworkd");
  CHECK_FALSE(daemonForScheme("network")->hypervisor);
  CHECK_FALSE(daemonForScheme("foo"));
  CHECK(daemonForFamily(protocol::Family::Storage)->name == "virtstoraged");
  CHECK(daemonForFamily(protocol::Family::NodeDev)->name == "virtnodedevd");
  CHECK_FALSE(daemonForFamily(protocol::Family::Domain));
  CHECK_FALSE(daemonForFamily(protocol::Family::Connect));
  auto order = hypervisorProbeOrder();
  REQUIRE(order.size() == 6);
  CHECK(order[0]->name == "virtxend");
  CHECK(order[1]->name == "virtqemud");
  CHECK(order[2]->name == "virtlxcd");
  const SplitDaemon& q = *daemonForScheme("qemu");
  CHECK(daemonSocketPath("/r/run/libvirt", q, false) == "/r/run/libvirt/virtqemud-sock");
  CHECK(daemonSocketPath("/r/run/libvirt", q, true) == "/r/run/libvirt/virtqemud-sock-ro");
  CHECK(daemonUnit(q) == "virtqemud.socket");
}

TEST_CASE("errors name the daemon, the socket and the unit") {
  const SplitDaemon& s = *daemonForScheme("storage");
  Error cause = Error::systemError(ErrorDomain::Rpc, 2, "Failed to connect socket to '/run/libvirt/virtstoraged-sock'");
  Error e = daemonUnreachable(s, cause);
  CHECK(e.code == ErrorCode::SystemError);
  CHECK(e.message ==
        "Failed to connect socket to '/run/libvirt/virtstoraged-sock': No such file or directory "
        "(virtstoraged is not running; start it with 'systemctl start virtstoraged.socket')");
  Error l = daemonConnectionLost(s, "/run/libvirt/virtstoraged-sock");
  CHECK(l.message.find("virtstoraged at '/run/libvirt/virtstoraged-sock' was lost") != std::string::npos);
  CHECK(l.message.find("systemctl start virtstoraged.socket") != std::string::npos);
}
