#include "rpc/tls_context.hpp"

#include <doctest/doctest.h>

using namespace splitvirt::rpc;

TEST_CASE("tls_allowed_dn_list: globs with * and ?, unset admits all, empty admits none") {
  const std::string dn = "CN=client1,O=splitvirt test,C=GB";
  CHECK(dnAllowed(std::nullopt, dn));
  CHECK_FALSE(dnAllowed(std::vector<std::string>{}, dn));
  CHECK(dnAllowed(std::vector<std::string>{dn}, dn));
  CHECK(dnAllowed(std::vector<std::string>{"CN=*,O=splitvirt test,C=GB"}, dn));
  CHECK(dnAllowed(std::vector<std::string>{"nope", "CN=client?,*"}, dn));
  CHECK(dnAllowed(std::vector<std::string>{"*"}, dn));
  CHECK_FALSE(dnAllowed(std::vector<std::string>{"CN=client1"}, dn));  // whole DN, not a prefix
  CHECK_FALSE(dnAllowed(std::vector<std::string>{"CN=client?,O=elsewhere,*"}, dn));
  CHECK_FALSE(dnAllowed(std::vector<std::string>{"CN=client1,O=splitvirt test,C=GB,*x"}, dn));
  CHECK(dnAllowed(std::vector<std::string>{"**C=GB"}, dn));
}
