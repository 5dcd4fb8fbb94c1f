// Server-side TLS for the TCP listener of virtproxyd (libvirt's x509
// setup): OpenSSL, TLS 1.2 or newer, a client certificate is required and
// verified against the CA (and CRL), and its subject DN may be restricted
// to tls_allowed_dn_list. OpenSSL headers stay in the .cpp.
#pragma once

#include "rpc/secure_stream.hpp"
#include "util/error.hpp"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace splitvirt::rpc {

struct TlsServerConfig {
  std::string caFile;    // cacert.pem: the CA client certificates must chain to
  std::string crlFile;   // optional revocation list ("" = none)
  std::string certFile;  // servercert.pem
  std::string keyFile;   // serverkey.pem
  // Glob patterns (libvirt: g_pattern_match_simple) on the client's subject
  // DN in RFC 2253 form, e.g. "CN=*,O=Example,C=GB". nullopt = any DN; an
  // empty list admits nobody, as in libvirt.
  std::optional<std::vector<std::string>> allowedDns;
  // tls_no_verify_certificate: accept clients without a valid certificate.
  bool verifyClient = true;
};

class TlsContext {
 public:
  // Loads and checks the files; errors name the file and what is wrong.
  static Result<std::shared_ptr<TlsContext>> createServer(const TlsServerConfig& cfg);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // A server-side stream over an accepted TCP socket (takes the fd).
  std::unique_ptr<SecureStream> wrap(const boost::asio::any_io_executor& ex, int fd) const;
  SecureStreamFactory factory() const;

  struct Impl;

 private:
  explicit TlsContext(std::unique_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

// tls_allowed_dn_list matching: `*` any run, `?` one character.
bool dnAllowed(const std::optional<std::vector<std::string>>& patterns, const std::string& dn);

}  // namespace splitvirt::rpc
