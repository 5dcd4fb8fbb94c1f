// Byte-exact encodings against the captures in protocol.md 1.10 / 3.7.
#include "protocol/connect_procs.hpp"
#include "protocol/domain_procs.hpp"
#include "xdr/codec.hpp"

#include <doctest/doctest.h>

using namespace splitvirt;
using namespace splitvirt::protocol;

namespace {
std::string hex(const std::string& s) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out.push_back(d[c >> 4]);
    out.push_back(d[c & 15]);
  }
  return out;
}
std::string unhex(std::string h) {
  std::string clean;
  for (char c : h)
    if (c != ' ' && c != '\n') clean.push_back(c);
  std::string out;
  for (size_t i = 0; i + 1 < clean.size(); i += 2) out.push_back(static_cast<char>(std::stoi(clean.substr(i, 2), nullptr, 16)));
  return out;
}
Uuid uuidFromHex(const std::string& h) {
  Uuid u{};
  std::string b = unhex(h);
  std::copy(b.begin(), b.end(), u.begin());
  return u;
}
}  // namespace

TEST_CASE("AUTH_LIST reply payload: types = [NONE]") {
  AuthListRet r;
  r.types.push_back(0);
  CHECK(hex(xdr::encodeToString(r)) == "0000000100000000");
}

TEST_CASE("CONNECT_OPEN args as sent by virsh") {
  ConnectOpenArgs a{std::string("qemu:///system"), 0};
  CHECK(hex(xdr::encodeToString(a)) == "000000010000000e71656d753a2f2f2f73797374656d000000000000");
  ConnectOpenArgs back;
  std::string bytes = xdr::encodeToString(a);
  REQUIRE(xdr::decodeFromBytes(bytes.data(), bytes.size(), back));
  CHECK(*back.name == "qemu:///system");
}

TEST_CASE("LIST_ALL_DOMAINS reply with one domain") {
  ListAllDomainsRet r;
  r.domains.push_back(NonnullDomain{"test", uuidFromHex("6695eb01f6a4830479aa97f2502e193f"), 1});
  r.ret = 1;
  CHECK(hex(xdr::encodeToString(r)) ==
        "00000001" "00000004" "74657374" "6695eb01f6a4830479aa97f2502e193f" "00000001" "00000001");
}

TEST_CASE("lifecycle event message body") {
  DomainEventCallbackLifecycleMsg m{0, NonnullDomain{"vm1", uuidFromHex("ef052472ca2e4be580b4c6c0498a5c33"), -1}, 0, 0};
  CHECK(hex(xdr::encodeToString(m)) ==
        "00000000" "00000003766d3100" "ef052472ca2e4be580b4c6c0498a5c33" "ffffffff" "0000000000000000");
}

TEST_CASE("char quirks: NODE_GET_INFO is 160 bytes, char<N> counts ints") {
  NodeGetInfoRet n;
  n.model.chars = "x86_64";
  CHECK(xdr::encodeToString(n).size() == 160);
  NodeGetSecurityModelRet s;
  s.model.chars = std::string("\0", 1);
  s.doi.chars = std::string("\0", 1);
  CHECK(hex(xdr::encodeToString(s)) == "00000001000000000000000100000000");
  DomainGetInfoRet i{5, 1, 2, 3, 4};
  CHECK(xdr::encodeToString(i).size() == 32);
}

TEST_CASE("remote_error layout") {
  RemoteError e;
  e.code = 42;
  e.domain = 10;
  e.message = "x";
  std::string b = xdr::encodeToString(e);
  CHECK(hex(b) == "0000002a" "0000000a" "00000001" "00000001" "78000000" "00000002" "00000000" "00000000"
                  "00000000" "00000000" "ffffffff" "ffffffff" "00000000");
}

TEST_CASE("decoder refuses lengths beyond limits or the packet") {
  // string claiming 5 bytes with only 4 present
  std::string b = unhex("00000005 41414141");
  std::string s;
  xdr::Reader r(b);
  CHECK_FALSE(xdr::decode(r, s));
  // array count over its max
  AuthListRet a;
  std::string over = unhex("00000015") + std::string(21 * 4, '\0');
  CHECK_FALSE(xdr::decodeFromBytes(over.data(), over.size(), a));
  // array count that the packet cannot hold (no allocation of 1e9 elements)
  ListAllDomainsRet l;
  std::string huge = unhex("00003fff");
  CHECK_FALSE(xdr::decodeFromBytes(huge.data(), huge.size(), l));
  // trailing garbage
  IntArg i;
  std::string extra = unhex("00000001 00000002");
  CHECK_FALSE(xdr::decodeFromBytes(extra.data(), extra.size(), i));
  // optional with a bad discriminant
  OptStringArg o;
  std::string bad = unhex("00000002");
  CHECK_FALSE(xdr::decodeFromBytes(bad.data(), bad.size(), o));
}

TEST_CASE("typed params round trip every union arm") {
  SetIdentityArgs a;
  a.params.push_back({"unix-user-id", xdr::TypedParamValue(uint64_t(0))});
  a.params.push_back({"user-name", xdr::TypedParamValue(std::string("root"))});
  a.params.push_back({"i", xdr::TypedParamValue(int32_t(-3))});
  a.params.push_back({"d", xdr::TypedParamValue(1.5)});
  a.params.push_back({"b", xdr::TypedParamValue(xdr::TypedParamBool{1})});
  std::string b = xdr::encodeToString(a);
  SetIdentityArgs back;
  REQUIRE(xdr::decodeFromBytes(b.data(), b.size(), back));
  REQUIRE(back.params.size() == 5);
  CHECK(std::get<std::string>(back.params[1].value) == "root");
  CHECK(std::get<double>(back.params[3].value) == 1.5);
  CHECK(hex(b.substr(4, 4 + 12 + 4)) == "0000000c756e69782d757365722d696400000004");
}
