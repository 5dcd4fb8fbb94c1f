#include "firewall/firewall.hpp"

#include "firewall/nft_rules.hpp"
#include "util/command.hpp"

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <unistd.h>

namespace splitvirt::network {

namespace {

// A private copy of the script for `nft -f FILE`, gone when this goes.
struct ScriptFile {
  std::string path;
  int fd = -1;
  ~ScriptFile() {
    if (fd >= 0) ::close(fd);
    if (!path.empty()) ::unlink(path.c_str());
  }
};

Result<void> writeScript(ScriptFile& f, const std::string& script) {
  std::error_code ec;
  auto dir = std::filesystem::temp_directory_path(ec);
  std::string tmpl = (ec ? std::filesystem::path("/tmp") : dir).string() + "/splitvirt-nft-XXXXXX";
  f.fd = ::mkstemp(tmpl.data());  // 0600, O_EXCL
  if (f.fd < 0) return Error::systemError(ErrorDomain::Network, errno, "cannot create file '" + tmpl + "'");
  f.path = tmpl;
  size_t off = 0;
  while (off < script.size()) {
    ssize_t n = ::write(f.fd, script.data() + off, script.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::systemError(ErrorDomain::Network, errno, "cannot write file '" + f.path + "'");
    off += static_cast<size_t>(n);
  }
  return {};
}

}  // namespace

Result<void> applyNftScript(const std::string& script, std::string_view nftBinary) {
  // One `nft -f` run is one transaction: the whole script or nothing.
  // The script goes through a private file because runCommand gives the
  // child /dev/null as stdin (`nft -f -` needs stdin). nft's messages name
  // the file with line and column, and quote the offending line.
  ScriptFile file;
  SV_TRY_VOID(writeScript(file, script));
  auto r = runCommand({std::string(nftBinary), "-f", file.path}, std::chrono::seconds(30), ErrorDomain::Network);
  if (!r) return r.error();
  if (r->exitStatus != 0) {
    std::string err = r->err;
    while (!err.empty() && (err.back() == '\n' || err.back() == ' ')) err.pop_back();
    // Named as the equivalent `nft -f -`: the temp file's name says nothing.
    return Error::internal(ErrorDomain::Network, "Child process (" + std::string(nftBinary) +
                                                     " -f -) unexpected exit status " +
                                                     std::to_string(r->exitStatus) + (err.empty() ? "" : ": " + err));
  }
  return {};
}

Result<void> addNetworkRules(const conf::NetworkDef& def, std::string_view nftBinary) {
  std::string script;
  SV_TRY_ASSIGN(script, nftAddScript(def));
  return applyNftScript(script, nftBinary);
}

Result<void> removeNetworkRules(std::string_view networkName, std::string_view nftBinary) {
  return applyNftScript(nftRemoveScript(networkName), nftBinary);
}

}  // namespace splitvirt::network
