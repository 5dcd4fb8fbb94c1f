#include "client_identity.hpp"

#include "protocol/connect_procs.hpp"
#include "xdr/codec.hpp"

#include <grp.h>
#include <pwd.h>

#include <fstream>
#include <optional>
#include <sstream>
#include <vector>

namespace splitvirt::proxy {

namespace {

std::optional<std::string> userName(uid_t uid) {
  std::vector<char> buf(4096);
  passwd pw{};
  passwd* out = nullptr;
  if (getpwuid_r(uid, &pw, buf.data(), buf.size(), &out) != 0 || !out) return std::nullopt;
  return std::string(out->pw_name);
}

std::optional<std::string> groupName(gid_t gid) {
  std::vector<char> buf(4096);
  group gr{};
  group* out = nullptr;
  if (getgrgid_r(gid, &gr, buf.data(), buf.size(), &out) != 0 || !out) return std::nullopt;
  return std::string(out->gr_name);
}

// Field 22 of /proc/PID/stat: with the pid it names the process uniquely
// (pids are reused, start times are not).
std::optional<uint64_t> processStartTime(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(f, stat)) return std::nullopt;
  auto paren = stat.rfind(')');
  if (paren == std::string::npos) return std::nullopt;
  std::istringstream rest(stat.substr(paren + 1));
  std::string field;
  // After "(comm)" come fields 3..; starttime is field 22.
  for (int i = 3; i <= 22; ++i)
    if (!(rest >> field)) return std::nullopt;
  try {
    return std::stoull(field);
  } catch (...) {
    return std::nullopt;
  }
}

}  // namespace

std::string encodeClientIdentity(const rpc::ConnContext& ctx, const rpc::PeerInfo& peer) {
  protocol::SetIdentityArgs id;
  auto add = [&](const char* field, xdr::TypedParamValue v) { id.params.push_back({field, std::move(v)}); };
  if (ctx.uid != static_cast<uid_t>(-1)) {
    if (auto n = userName(ctx.uid)) add("user-name", *n);
    add("unix-user-id", uint64_t(ctx.uid));
  }
  if (ctx.gid != static_cast<gid_t>(-1)) {
    if (auto n = groupName(ctx.gid)) add("group-name", *n);
    add("unix-group-id", uint64_t(ctx.gid));
  }
  if (ctx.pid > 0) {
    add("process-id", int64_t(ctx.pid));
    if (auto t = processStartTime(ctx.pid)) add("process-time", *t);
  }
  if (!peer.x509Dn.empty()) add("x509-distinguished-name", peer.x509Dn);
  return xdr::encodeToString(id);
}

}  // namespace splitvirt::proxy
