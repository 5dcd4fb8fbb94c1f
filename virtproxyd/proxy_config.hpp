// virtproxyd's own config keys (libvirt's virtproxyd.conf / libvirtd.conf):
// the TCP and TLS listeners and the x509 files. The keys every daemon shares
// are read by daemon::daemonConfigFrom.
#pragma once

#include "daemon/daemon_config.hpp"
#include "rpc/tls_context.hpp"

#include <optional>
#include <string>
#include <vector>

namespace splitvirt::proxy {

struct ProxyConfig {
  bool listenTcp = false;  // libvirt 9.0 virtproxyd: both off by default
  bool listenTls = false;
  std::string tcpPort = "16509";
  std::string tlsPort = "16514";
  std::string listenAddr;       // empty = every address
  std::string authTcp = "sasl";  // only "none" is served (no SASL here)
  std::string authTls = "none";
  std::string keyFile, certFile, caFile, crlFile;  // empty = libvirt's default location
  std::optional<std::vector<std::string>> tlsAllowedDnList;
  bool tlsNoVerifyCertificate = false;
};

Result<ProxyConfig> proxyConfigFrom(const daemon::ConfFile& f, const std::string& filename);

// The TLS files: the configured ones, else libvirt's defaults under `root`
// (<root>/etc/pki/CA/cacert.pem, <root>/etc/pki/libvirt/servercert.pem,
// <root>/etc/pki/libvirt/private/serverkey.pem, and the CRL
// <root>/etc/pki/CA/cacrl.pem if it exists). As in libvirt, naming one of
// CA, certificate and key means naming all three.
Result<rpc::TlsServerConfig> tlsServerConfig(const ProxyConfig& c, const std::string& root);

// auth_tcp / auth_tls values this daemon can serve, or the error saying why not.
Result<void> checkAuth(const std::string& key, const std::string& value);

}  // namespace splitvirt::proxy
