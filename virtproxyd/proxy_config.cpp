#include "proxy_config.hpp"

#include <unistd.h>

namespace splitvirt::proxy {

namespace {

Error syntax(const std::string& filename, const std::string& key, const char* want) {
  return Error::make(ErrorCode::ConfSyntax, ErrorDomain::Conf, "configuration file syntax error: %s",
                     "configuration file syntax error", filename + ": " + key + ": expected " + want);
}

Error unsupported(std::string detail) {
  return Error::make(ErrorCode::ConfigUnsupported, ErrorDomain::Conf, "unsupported configuration: %s",
                     "unsupported configuration", std::move(detail));
}

}  // namespace

Result<ProxyConfig> proxyConfigFrom(const daemon::ConfFile& f, const std::string& filename) {
  ProxyConfig c;
  auto boolean = [&](const std::string& key, bool& out) -> Result<void> {
    if (!f.entries().count(key)) return {};
    auto v = f.getInt(key);
    if (!v || (*v != 0 && *v != 1)) return syntax(filename, key, "0 or 1");
    out = *v == 1;
    return {};
  };
  auto string = [&](const std::string& key, std::string& out) -> Result<void> {
    if (!f.entries().count(key)) return {};
    auto v = f.getString(key);
    if (!v) return syntax(filename, key, "a string");
    out = *v;
    return {};
  };
  SV_TRY_VOID(boolean("listen_tcp", c.listenTcp));
  SV_TRY_VOID(boolean("listen_tls", c.listenTls));
  SV_TRY_VOID(boolean("tls_no_verify_certificate", c.tlsNoVerifyCertificate));
  SV_TRY_VOID(string("tcp_port", c.tcpPort));
  SV_TRY_VOID(string("tls_port", c.tlsPort));
  SV_TRY_VOID(string("listen_addr", c.listenAddr));
  SV_TRY_VOID(string("auth_tcp", c.authTcp));
  SV_TRY_VOID(string("auth_tls", c.authTls));
  SV_TRY_VOID(string("key_file", c.keyFile));
  SV_TRY_VOID(string("cert_file", c.certFile));
  SV_TRY_VOID(string("ca_file", c.caFile));
  SV_TRY_VOID(string("crl_file", c.crlFile));
  if (auto it = f.entries().find("tls_allowed_dn_list"); it != f.entries().end()) {
    auto* list = std::get_if<std::vector<std::string>>(&it->second);
    if (!list) return syntax(filename, "tls_allowed_dn_list", "a list of strings");
    c.tlsAllowedDnList = *list;
  }
  return c;
}

Result<void> checkAuth(const std::string& key, const std::string& value) {
  if (value == "none") return {};
  if (value == "sasl" || value == "polkit")
    return unsupported(key + " = \"" + value + "\": SASL and polkit are not supported; set " + key +
                       " = \"none\" (TLS client certificates or firewalling guard the port)");
  return unsupported(key + ": unknown authentication type '" + value + "'");
}

Result<rpc::TlsServerConfig> tlsServerConfig(const ProxyConfig& c, const std::string& root) {
  rpc::TlsServerConfig t;
  if (!c.caFile.empty() || !c.certFile.empty() || !c.keyFile.empty()) {
    if (c.caFile.empty()) return unsupported("No CA certificate path set to match server key/cert");
    if (c.certFile.empty()) return unsupported("No server certificate path set to match server key");
    if (c.keyFile.empty()) return unsupported("No server key path set to match server cert");
    t.caFile = c.caFile;
    t.certFile = c.certFile;
    t.keyFile = c.keyFile;
    t.crlFile = c.crlFile;
  } else {
    t.caFile = root + "/etc/pki/CA/cacert.pem";
    t.certFile = root + "/etc/pki/libvirt/servercert.pem";
    t.keyFile = root + "/etc/pki/libvirt/private/serverkey.pem";
    std::string crl = c.crlFile.empty() ? root + "/etc/pki/CA/cacrl.pem" : c.crlFile;
    if (!c.crlFile.empty() || ::access(crl.c_str(), F_OK) == 0) t.crlFile = crl;
  }
  t.allowedDns = c.tlsAllowedDnList;
  t.verifyClient = !c.tlsNoVerifyCertificate;
  return t;
}

}  // namespace splitvirt::proxy
