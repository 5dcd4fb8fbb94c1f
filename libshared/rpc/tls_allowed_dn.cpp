// tls_allowed_dn_list matching, apart from the OpenSSL code so that it can
// be used (and tested) without linking the crypto library.
#include "rpc/tls_context.hpp"

namespace splitvirt::rpc {

bool dnAllowed(const std::optional<std::vector<std::string>>& patterns, const std::string& dn) {
  if (!patterns) return true;
  // Glob with `*` and `?` only (no classes, no escapes), iterative with
  // one backtrack point: linear enough for DN-sized strings.
  auto match = [](const std::string& p, const std::string& s) {
    size_t pi = 0, si = 0, star = std::string::npos, mark = 0;
    while (si < s.size()) {
      if (pi < p.size() && (p[pi] == '?' || p[pi] == s[si])) {
        ++pi;
        ++si;
      } else if (pi < p.size() && p[pi] == '*') {
        star = pi++;
        mark = si;
      } else if (star != std::string::npos) {
        pi = star + 1;
        si = ++mark;
      } else {
        return false;
      }
    }
    while (pi < p.size() && p[pi] == '*') ++pi;
    return pi == p.size();
  };
  for (const auto& p : *patterns)
    if (match(p, dn)) return true;
  return false;
}

}  // namespace splitvirt::rpc
