// networkxml2nft: network XML -> the nft script adding its rules and the
// one removing them; then each pair applied for real with `nft` inside a
// fresh network namespace (skipped when not root or nft is missing), so CI
// keeps proving that the scripts load, replace and remove cleanly.
#include "firewall/firewall.hpp"
#include "firewall/nft_rules.hpp"
#include "netns_thread.hpp"
#include "support/golden.hpp"
#include "util/command.hpp"

#include <doctest/doctest.h>

#include <filesystem>

namespace fs = std::filesystem;
using namespace splitvirt;
using namespace splitvirt::network;

namespace {

const fs::path kGolden = fs::path(SV_GOLDEN_DIR) / "networkxml2nft";
constexpr const char* kNft = "/usr/sbin/nft";

conf::NetworkDef parseOk(const std::string& xml) {
  auto r = conf::parseNetworkDef(xml);
  REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().message));
  return *r;
}

conf::NetworkDef parseFile(const fs::path& p) {
  auto text = test::readFile(p);
  REQUIRE(text.has_value());
  return parseOk(*text);
}

std::string addScript(const conf::NetworkDef& def) {
  auto r = nftAddScript(def);
  REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().message));
  return *r;
}

std::string listRuleset() {
  auto r = runCommand({kNft, "list", "ruleset"});
  REQUIRE(r.has_value());
  REQUIRE_MESSAGE(r->exitStatus == 0, r->err);
  return r->out;
}

void apply(const std::string& script) {
  auto r = applyNftScript(script, kNft);
  CHECK_MESSAGE(r.has_value(), (r ? "" : r.error().message) << "\n" << script);
}

bool nftUsable() {
  if (!fs::exists(kNft)) {
    MESSAGE("skipped: no " << kNft);
    return false;
  }
  if (!test::canUnshareNet()) {
    MESSAGE("skipped: not root, cannot make a network namespace");
    return false;
  }
  return true;
}

// What `nft list ruleset` shows once every network is gone: our table
// stays, empty (a shared table cannot be deleted by one network).
constexpr const char* kEmptyTable = "table inet splitvirt {\n}\n";

}  // namespace

TEST_CASE("networkxml2nft: nft add and remove scripts match the golden files") {
  auto cases = test::goldenFiles(kGolden, ".xml");
  REQUIRE(cases.size() >= 10);
  for (const auto& xmlPath : cases) {
    const std::string base = fs::path(xmlPath).replace_extension().string();
    CAPTURE(xmlPath.filename().string());
    auto def = parseFile(xmlPath);
    test::compareToGolden(addScript(def), base + ".add.nft");
    test::compareToGolden(nftRemoveScript(def.name), base + ".remove.nft");
  }
}

TEST_CASE("nft: every golden script applies in a fresh netns and the removal leaves nothing behind") {
  if (!nftUsable()) return;
  auto cases = test::goldenFiles(kGolden, ".xml");
  REQUIRE_FALSE(cases.empty());
  test::runInNewNetns([&] {
    REQUIRE(listRuleset().empty());
    for (const auto& xmlPath : cases) {
      CAPTURE(xmlPath.filename().string());
      auto def = parseFile(xmlPath);
      const std::string add = addScript(def);
      const std::string remove = nftRemoveScript(def.name);
      // Removal must work before anything exists (restart after a crash).
      apply(remove);
      CHECK(listRuleset() == kEmptyTable);
      apply(add);
      const std::string once = listRuleset();
      if (hasFirewallRules(def)) CHECK(once.find(nftChainName(def.name, "forward")) != std::string::npos);
      else CHECK(once == kEmptyTable);
      // Adding again replaces instead of doubling the rules.
      apply(add);
      CHECK(listRuleset() == once);
      apply(remove);
      CHECK(listRuleset() == kEmptyTable);
      apply(remove);
      CHECK(listRuleset() == kEmptyTable);
    }
  });
}

TEST_CASE("nft: one network's rules come and go without touching another's or foreign tables") {
  if (!nftUsable()) return;
  auto a = parseFile(kGolden / "nat-network.xml");
  auto b = parseFile(kGolden / "route-network.xml");
  test::runInNewNetns([&] {
    // Someone else's table, as Docker or firewalld would have.
    apply("add table ip other\nadd chain ip other theirs { type filter hook forward priority 0; policy accept; }\n"
          "add rule ip other theirs counter accept\n");
    const std::string foreign = listRuleset();
    REQUIRE(addNetworkRules(b, kNft).has_value());
    const std::string onlyB = listRuleset();
    REQUIRE(addNetworkRules(a, kNft).has_value());
    CHECK(listRuleset() != onlyB);
    REQUIRE(removeNetworkRules(a.name, kNft).has_value());
    CHECK(listRuleset() == onlyB);
    REQUIRE(removeNetworkRules(b.name, kNft).has_value());
    CHECK(listRuleset() == foreign + kEmptyTable);
  });
}

TEST_CASE("nft: a failing script is libvirt's internal error with nft's message, and changes nothing") {
  if (!nftUsable()) return;
  test::runInNewNetns([&] {
    auto def = parseFile(kGolden / "nat-network.xml");
    // The bad rule comes last: the whole batch must be refused.
    auto r = applyNftScript(addScript(def) + "add rule inet splitvirt nosuchchain accept\n", kNft);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == ErrorCode::InternalError);
    CHECK(r.error().message.starts_with("internal error: Child process (/usr/sbin/nft -f -) unexpected exit status 1: "));
    CHECK(r.error().message.find("nosuchchain") != std::string::npos);
    CHECK(listRuleset().empty());
  });
  auto missing = applyNftScript("add table inet splitvirt\n", "/nonexistent/nft");
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().message.find("Cannot find '/nonexistent/nft' in path") != std::string::npos);
}

TEST_CASE("nft: chain names, modes without rules, and libvirt's NAT port check") {
  CHECK(nftChainName("default", "forward") == "net_default_forward");
  CHECK(nftChainName("a b", "input") == "net_a.20b_input");
  CHECK(nftChainName("a.b", "input") == "net_a.2eb_input");
  CHECK(nftChainName("x\"y", "output") == "net_x.22y_output");

  auto open = parseOk("<network><name>o</name><forward mode='open'/><bridge name='virbr9'/>"
                      "<ip address='10.1.0.1' prefix='24'/></network>");
  CHECK_FALSE(hasFirewallRules(open));
  CHECK(addScript(open) == nftRemoveScript("o"));

  auto nat = parseOk("<network><name>n</name><forward mode='nat'/><bridge name='virbr9'/>"
                     "<ip address='10.1.0.1' prefix='24'/></network>");
  nat.forward.natPortStart = 2000;
  nat.forward.natPortEnd = 2000;
  auto r = nftAddScript(nat);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message == "internal error: Invalid port range '2000-2000'.");

  auto noBridge = nat;
  noBridge.forward.natPortStart = noBridge.forward.natPortEnd = 0;
  noBridge.bridge.reset();
  CHECK_FALSE(nftAddScript(noBridge).has_value());
}
