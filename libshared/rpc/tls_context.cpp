#include "rpc/tls_context.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
// Asio is compiled separately (io/asio_impl.cpp); its SSL part is compiled
// here, the one translation unit that uses it, so that only daemons serving
// TLS link OpenSSL.
#include <boost/asio/ssl/impl/src.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace splitvirt::rpc {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;

namespace {

Error tlsError(std::string detail) {
  return Error::make(ErrorCode::SystemError, ErrorDomain::Rpc, "%s", "", std::move(detail));
}

std::string lastSslError() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (!e) return "unknown error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

Result<void> readable(const std::string& path, const char* what) {
  if (::access(path.c_str(), R_OK) == 0) return {};
  return Error::systemError(ErrorDomain::Rpc, errno, std::string("Cannot read ") + what + " '" + path + "'");
}

std::string subjectDn(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string dn(data, static_cast<size_t>(n > 0 ? n : 0));
  BIO_free(bio);
  return dn;
}

// libvirt refuses to start with a server certificate that is not (or no
// longer) valid or that its own CA did not sign: check it the same way.
Result<void> checkServerCert(SSL_CTX* c, const TlsServerConfig& cfg) {
  X509* cert = SSL_CTX_get0_certificate(c);
  if (!cert) return tlsError("No server certificate in '" + cfg.certFile + "'");
  if (X509_cmp_current_time(X509_get0_notAfter(cert)) < 0)
    return tlsError("The server certificate " + cfg.certFile + " has expired");
  if (X509_cmp_current_time(X509_get0_notBefore(cert)) > 0)
    return tlsError("The server certificate " + cfg.certFile + " is not yet active");
  X509_STORE_CTX* vctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(vctx, SSL_CTX_get_cert_store(c), cert, nullptr);
  X509_STORE_CTX_set_purpose(vctx, X509_PURPOSE_SSL_SERVER);
  // The CRL (if any) is for clients; the pair check must not need one.
  X509_VERIFY_PARAM_clear_flags(X509_STORE_CTX_get0_param(vctx), X509_V_FLAG_CRL_CHECK);
  int ok = X509_verify_cert(vctx);
  int err = X509_STORE_CTX_get_error(vctx);
  X509_STORE_CTX_free(vctx);
  if (ok != 1)
    return tlsError("Your server certificate " + cfg.certFile + " failed validation against your CA certificate " +
                    cfg.caFile + ": " + X509_verify_cert_error_string(err));
  return {};
}

}  // namespace

struct TlsContext::Impl {
  mutable ssl::context ctx{ssl::context::tls_server};
  TlsServerConfig cfg;

  // After the handshake: who the client is, or why it is refused.
  Result<std::string> checkPeer(SSL* s) const {
    X509* cert = SSL_get1_peer_certificate(s);
    if (!cert) {
      if (!cfg.verifyClient) return std::string();
      return tlsError("The client did not present a certificate");
    }
    std::string dn = subjectDn(cert);
    X509_free(cert);
    if (cfg.verifyClient) {
      long vr = SSL_get_verify_result(s);
      if (vr != X509_V_OK)
        return tlsError("Certificate failed validation: " + std::string(X509_verify_cert_error_string(vr)));
    }
    if (!dnAllowed(cfg.allowedDns, dn))
      return tlsError("Client's Distinguished Name '" + dn +
                      "' is not on the list of allowed clients (tls_allowed_dn_list)");
    return dn;
  }
};

namespace {

class TlsStream final : public SecureStream {
 public:
  TlsStream(const asio::any_io_executor& ex, int fd, std::shared_ptr<const TlsContext::Impl> ctx)
      : ctx_(std::move(ctx)), s_(asio::ip::tcp::socket(ex), ctx_->ctx) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
    boost::system::error_code ec;
    s_.next_layer().assign(ss.ss_family == AF_INET6 ? asio::ip::tcp::v6() : asio::ip::tcp::v4(), fd, ec);
    if (ec) ::close(fd);
  }

  void handshake(std::function<void(Result<std::string>)> done) override {
    s_.async_handshake(ssl::stream_base::server, [this, done = std::move(done)](const boost::system::error_code& ec) {
      if (ec) {
        std::string why = ec.message();
        long vr = SSL_get_verify_result(s_.native_handle());
        if (vr != X509_V_OK) why += ": " + std::string(X509_verify_cert_error_string(vr));
        return done(tlsError("TLS handshake failed: " + why));
      }
      done(ctx_->checkPeer(s_.native_handle()));
    });
  }

  void asyncReadSome(void* data, size_t size, IoHandler handler) override {
    s_.async_read_some(asio::buffer(data, size), std::move(handler));
  }

  void asyncWrite(const void* data, size_t size, IoHandler handler) override {
    asio::async_write(s_, asio::buffer(data, size), std::move(handler));
  }

  void close() override {
    boost::system::error_code ec;
    s_.next_layer().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    s_.next_layer().close(ec);
  }

 private:
  std::shared_ptr<const TlsContext::Impl> ctx_;
  ssl::stream<asio::ip::tcp::socket> s_;
};

}  // namespace

TlsContext::TlsContext(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TlsContext::~TlsContext() = default;

Result<std::shared_ptr<TlsContext>> TlsContext::createServer(const TlsServerConfig& cfg) {
  SV_TRY_VOID(readable(cfg.caFile, "CA certificate"));
  SV_TRY_VOID(readable(cfg.certFile, "server certificate"));
  SV_TRY_VOID(readable(cfg.keyFile, "server key"));
  if (!cfg.crlFile.empty()) SV_TRY_VOID(readable(cfg.crlFile, "CA revocation list"));

  auto impl = std::make_unique<Impl>();
  impl->cfg = cfg;
  SSL_CTX* c = impl->ctx.native_handle();
  ERR_clear_error();
  SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
  SSL_CTX_set_options(c, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // libvirt never resumes sessions: no tickets after the handshake.
  SSL_CTX_set_num_tickets(c, 0);
  SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);

  if (SSL_CTX_load_verify_locations(c, cfg.caFile.c_str(), nullptr) != 1)
    return tlsError("Unable to set x509 CA certificate: " + cfg.caFile + ": " + lastSslError());
  if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(cfg.caFile.c_str())) SSL_CTX_set_client_CA_list(c, names);
  if (!cfg.crlFile.empty()) {
    X509_STORE* store = SSL_CTX_get_cert_store(c);
    X509_LOOKUP* lookup = X509_STORE_add_lookup(store, X509_LOOKUP_file());
    if (!lookup || X509_load_crl_file(lookup, cfg.crlFile.c_str(), X509_FILETYPE_PEM) <= 0)
      return tlsError("Unable to set x509 certificate revocation list: " + cfg.crlFile + ": " + lastSslError());
    X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
  }
  if (SSL_CTX_use_certificate_chain_file(c, cfg.certFile.c_str()) != 1)
    return tlsError("Unable to load x509 certificate " + cfg.certFile + ": " + lastSslError());
  if (SSL_CTX_use_PrivateKey_file(c, cfg.keyFile.c_str(), SSL_FILETYPE_PEM) != 1)
    return tlsError("Unable to load x509 key " + cfg.keyFile + ": " + lastSslError());
  if (SSL_CTX_check_private_key(c) != 1)
    return tlsError("The key " + cfg.keyFile + " does not match the certificate " + cfg.certFile);
  SV_TRY_VOID(checkServerCert(c, cfg));

  SSL_CTX_set_verify(c, cfg.verifyClient ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT : SSL_VERIFY_NONE,
                     nullptr);
  return std::shared_ptr<TlsContext>(new TlsContext(std::move(impl)));
}

std::unique_ptr<SecureStream> TlsContext::wrap(const asio::any_io_executor& ex, int fd) const {
  return std::make_unique<TlsStream>(ex, fd, impl_);
}

SecureStreamFactory TlsContext::factory() const {
  std::shared_ptr<const Impl> impl = impl_;
  return [impl](const asio::any_io_executor& ex, int fd) -> std::unique_ptr<SecureStream> {
    return std::make_unique<TlsStream>(ex, fd, impl);
  };
}

}  // namespace splitvirt::rpc
