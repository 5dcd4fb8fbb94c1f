#include "util/error.hpp"

#include <cstring>
#include <stdexcept>

namespace splitvirt {

Error Error::make(ErrorCode code, ErrorDomain domain, std::string_view tmplWithDetail,
                  std::string_view tmplNoDetail, std::optional<std::string> detail) {
  Error e;
  e.code = code;
  e.domain = domain;
  if (detail) {
    std::string msg(tmplWithDetail);
    auto pos = msg.find("%s");
    if (pos != std::string::npos) msg.replace(pos, 2, *detail);
    e.message = std::move(msg);
    e.str1 = std::string(tmplWithDetail);
    e.str2 = std::move(detail);
  } else {
    e.message = std::string(tmplNoDetail);
    e.str1 = std::string(tmplNoDetail);
  }
  return e;
}

Error Error::internal(ErrorDomain d, std::string detail) {
  return make(ErrorCode::InternalError, d, "internal error: %s", "internal error", std::move(detail));
}
Error Error::noSupport(ErrorDomain d, std::string apiName) {
  return make(ErrorCode::NoSupport, d, "this function is not supported by the connection driver: %s",
              "this function is not supported by the connection driver", std::move(apiName));
}
Error Error::invalidArg(ErrorDomain d, std::string detail) {
  return make(ErrorCode::InvalidArg, d, "invalid argument: %s", "invalid argument", std::move(detail));
}
Error Error::operationFailed(ErrorDomain d, std::string detail) {
  return make(ErrorCode::OperationFailed, d, "operation failed: %s", "operation failed", std::move(detail));
}
Error Error::operationInvalid(ErrorDomain d, std::string detail) {
  return make(ErrorCode::OperationInvalid, d, "Requested operation is not valid: %s",
              "Requested operation is not valid", std::move(detail));
}
Error Error::operationDenied(ErrorDomain d, std::string detail) {
  return make(ErrorCode::OperationDenied, d, "operation forbidden: %s",
              "operation forbidden for read only access", std::move(detail));
}
Error Error::xmlError(ErrorDomain d, std::string detail) {
  return make(ErrorCode::XmlError, d, "XML error: %s", "XML description is invalid or not well formed",
              std::move(detail));
}
Error Error::xmlDetail(ErrorDomain d, std::string detail) {
  // libvirt's XML_DETAIL template is "%s" alone: the parser's text is the message.
  return make(ErrorCode::XmlDetail, d, "%s", "", std::move(detail));
}
Error Error::xmlInvalidSchema(ErrorDomain d, std::string detail) {
  return make(ErrorCode::XmlInvalidSchema, d, "XML document failed to validate against schema: %s",
              "XML document failed to validate against schema", std::move(detail));
}
Error Error::domExist(ErrorDomain d, std::string detail) {
  return make(ErrorCode::DomExist, d, "operation failed: %s", "this domain exists already", std::move(detail));
}
Error Error::noDomain(ErrorDomain d, std::string detail) {
  return make(ErrorCode::NoDomain, d, "Domain not found: %s", "Domain not found", std::move(detail));
}
Error Error::configUnsupported(ErrorDomain d, std::string detail) {
  return make(ErrorCode::ConfigUnsupported, d, "unsupported configuration: %s", "unsupported configuration",
              std::move(detail));
}
Error Error::argumentUnsupported(ErrorDomain d, std::string detail) {
  return make(ErrorCode::ArgumentUnsupported, d, "argument unsupported: %s", "argument unsupported",
              std::move(detail));
}
// virReportInvalidArg: the text is the whole message (no "invalid
// argument: " prefix), str1 the function, str2 the argument's name.
Error Error::invalidArgIn(ErrorDomain d, std::string_view function, std::string_view argName, std::string message) {
  Error e;
  e.code = ErrorCode::InvalidArg;
  e.domain = d;
  e.message = std::move(message);
  e.str1 = std::string(function);
  e.str2 = std::string(argName);
  return e;
}
Error Error::unsupportedFlags(ErrorDomain d, unsigned flags, std::string_view function) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "unsupported flags (0x%x) in function ", flags);
  return invalidArgIn(d, function, "flags", std::string(buf) + std::string(function));
}
Error Error::systemError(ErrorDomain d, int err, std::string detail) {
  Error e;
  e.code = ErrorCode::SystemError;
  e.domain = d;
  e.message = detail + ": " + std::strerror(err);
  e.str1 = "%s";
  e.str2 = e.message;
  return e;
}
Error Error::noConnect(ErrorDomain d, std::string detail) {
  return make(ErrorCode::NoConnect, d, "no connection driver available for %s",
              "no connection driver available", std::move(detail));
}
Error Error::rpc(ErrorDomain d, std::string message) {
  Error e;
  e.code = ErrorCode::Rpc;
  e.domain = d;
  e.message = message;
  e.str1 = "%s";
  e.str2 = std::move(message);
  return e;
}

Error Error::noStoragePool(std::string detail) {
  return make(ErrorCode::NoStoragePool, ErrorDomain::Storage, "Storage pool not found: %s", "Storage pool not found",
              std::move(detail));
}
Error Error::noStorageVol(std::string detail) {
  return make(ErrorCode::NoStorageVol, ErrorDomain::Storage, "Storage volume not found: %s", "Storage volume not found",
              std::move(detail));
}
Error Error::operationUnsupported(ErrorDomain d, std::string detail) {
  return make(ErrorCode::OperationUnsupported, d, "Operation not supported: %s", "Operation not supported",
              std::move(detail));
}
Error Error::noNetwork(std::string detail) {
  return make(ErrorCode::NoNetwork, ErrorDomain::Network, "Network not found: %s", "Network not found",
              std::move(detail));
}
Error Error::networkExist(std::string detail) {
  return make(ErrorCode::NetworkExist, ErrorDomain::Network, "network %s exists already",
              "this network exists already", std::move(detail));
}
Error Error::noNetworkPort(std::string detail) {
  return make(ErrorCode::NoNetworkPort, ErrorDomain::Network, "network port not found: %s",
              "network port not found", std::move(detail));
}
Error Error::storageVolExist(std::string name) {
  return make(ErrorCode::StorageVolExist, ErrorDomain::Storage, "storage volume %s exists already",
              "this storage volume exists already", "'" + name + "'");
}

void throw_exception_from_error(const Error& e, const boost::source_location&) {
  throw std::runtime_error(e.message);
}

}  // namespace splitvirt
