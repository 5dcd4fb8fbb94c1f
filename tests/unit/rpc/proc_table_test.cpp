#include "protocol/proc_table.hpp"
#include "rpc/program.hpp"

#include <doctest/doctest.h>

using namespace splitvirt;

TEST_CASE("procedure table covers 1..443 with names and families") {
  for (int n = 1; n <= protocol::kRemoteProcMax; ++n) {
    const auto* p = protocol::findRemoteProc(n);
    REQUIRE(p);
    CHECK(p->number == n);
    CHECK(!p->name.empty());
  }
  CHECK(protocol::findRemoteProc(11)->api == "virDomainDefineXML");
  CHECK(protocol::findRemoteProc(11)->deniedReadOnly);
  CHECK_FALSE(protocol::findRemoteProc(273)->deniedReadOnly);
  CHECK(protocol::findRemoteProc(283)->family == protocol::Family::Network);
  CHECK(protocol::findRemoteProc(93)->family == protocol::Family::Storage);
  CHECK(protocol::findRemoteProc(318)->isEvent);
  CHECK(protocol::findRemoteProc(14)->api == "virDomainGetXMLDesc");
}

TEST_CASE("routing: before open, read-only, unbound") {
  rpc::Program p(ErrorDomain::Qemu);
  rpc::ConnContext ctx;
  auto r = p.route(ctx, 273);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == ErrorCode::InternalError);
  ctx.opened = true;
  ctx.readonly = true;
  r = p.route(ctx, 11);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == ErrorCode::OperationDenied);
  CHECK(r.error().message == "operation forbidden: read only access prevents virDomainDefineXML");
  ctx.readonly = false;
  r = p.route(ctx, 211);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == ErrorCode::NoSupport);
  CHECK(r.error().message == "this function is not supported by the connection driver: virDomainScreenshot");
  r = p.route(ctx, 9999);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message == "unknown procedure: 9999");
}
