#include "daemon/daemon_config.hpp"

#include <doctest/doctest.h>

using namespace splitvirt;
using namespace splitvirt::daemon;

TEST_CASE("libvirt conf syntax: strings, numbers, lists, comments") {
  auto f = ConfFile::parse(
      "# comment\n"
      "unix_sock_dir = \"/x/run\"\n"
      "unix_sock_rw_perms = \"0770\"   # trailing\n"
      "max_clients=10\n"
      "keepalive_interval = -1\n"
      "log_outputs = \"1:file:/tmp/x.log 3:stderr\"\n"
      "access_drivers = [ \"polkit\",\n \"none\" ]\n",
      "t.conf");
  REQUIRE(f.has_value());
  CHECK(*f->getString("unix_sock_dir") == "/x/run");
  CHECK(*f->getInt("max_clients") == 10);
  auto c = daemonConfigFrom(*f, "t.conf");
  REQUIRE(c.has_value());
  CHECK(c->rwPerms == 0770);
  CHECK(c->roPerms == 0777);
  CHECK(c->maxClients == 10);
  CHECK(c->keepaliveInterval == -1);
  CHECK(c->logOutputs == "1:file:/tmp/x.log 3:stderr");
}

TEST_CASE("syntax errors name the file and line") {
  auto f = ConfFile::parse("a = 1\nb = \"unterminated\n", "bad.conf");
  REQUIRE_FALSE(f.has_value());
  CHECK(f.error().code == ErrorCode::ConfSyntax);
  CHECK(f.error().message.find("bad.conf:2") != std::string::npos);
  CHECK_FALSE(ConfFile::parse("novalue =\n", "x").has_value());
  CHECK_FALSE(ConfFile::parse("= 3\n", "x").has_value());
}

TEST_CASE("bad values are refused") {
  auto f = ConfFile::parse("unix_sock_rw_perms = \"0999\"\n", "x");
  REQUIRE(f.has_value());
  CHECK_FALSE(daemonConfigFrom(*f, "x").has_value());
  auto g = ConfFile::parse("max_clients = \"ten\"\n", "x");
  REQUIRE(g.has_value());
  CHECK_FALSE(daemonConfigFrom(*g, "x").has_value());
  auto h = ConfFile::parse("log_level = 9\n", "x");
  REQUIRE(h.has_value());
  CHECK_FALSE(daemonConfigFrom(*h, "x").has_value());
}
