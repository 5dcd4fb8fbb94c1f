// Errors as libvirt reports them: numeric code + domain + full message, the
// same fields the wire `remote_error` carries, so virsh prints the right text.
#pragma once

#include <boost/system/result.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace splitvirt {

// virErrorNumber values (libvirt 9.0). Only the ones we use are named.
enum class ErrorCode : int {
  Ok = 0,
  InternalError = 1,
  NoMemory = 2,
  NoSupport = 3,
  NoConnect = 5,
  InvalidConn = 6,
  InvalidDomain = 7,
  InvalidArg = 8,
  OperationFailed = 9,
  OsType = 16,
  NoName = 21,
  XmlError = 27,
  DomExist = 28,
  OperationDenied = 29,
  OpenFailed = 30,
  ReadFailed = 31,
  ConfSyntax = 33,
  WriteFailed = 34,
  XmlDetail = 35,
  InvalidNetwork = 36,
  NetworkExist = 37,
  SystemError = 38,
  Rpc = 39,
  NoDomain = 42,
  NoNetwork = 43,
  InvalidMac = 44,
  InvalidStoragePool = 46,
  InvalidStorageVol = 47,
  NoStoragePool = 49,
  NoStorageVol = 50,
  OperationInvalid = 55,
  ConfigUnsupported = 67,
  OperationTimeout = 68,
  NoDomainSnapshot = 72,
  SnapshotRevertRisky = 77,
  ArgumentUnsupported = 74,
  OperationUnsupported = 84,
  StoragePoolBuilt = 76,
  ResourceBusy = 87,
  StorageVolExist = 90,
  XmlInvalidSchema = 92,
  InvalidNetworkPort = 105,
  NetworkPortExist = 106,
  NoNetworkPort = 107,
};

// virErrorDomain values.
enum class ErrorDomain : int {
  None = 0,
  Dom = 6,
  Rpc = 7,
  Conf = 9,
  Qemu = 10,
  Net = 11,
  Remote = 13,
  Lxc = 17,
  Storage = 18,
  Network = 19,
  Domain = 20,
  Capabilities = 44,
  Uri = 45,
  Libxl = 41,
  Streams = 38,
};

struct Error {
  ErrorCode code = ErrorCode::InternalError;
  ErrorDomain domain = ErrorDomain::None;
  std::string message;                 // full text, e.g. "Domain not found: ..."
  std::optional<std::string> str1;     // libvirt's template, e.g. "Domain not found: %s"
  std::optional<std::string> str2;     // the detail
  std::optional<std::string> str3;
  int level = 2;
  int int1 = -1;
  int int2 = -1;

  // Builds an error the way libvirt's virReportError does: `tmpl` is the
  // code's template with one %s (or none) and `detail` fills it.
  static Error make(ErrorCode code, ErrorDomain domain, std::string_view tmplWithDetail,
                    std::string_view tmplNoDetail, std::optional<std::string> detail);

  // Factories, one per libvirt error number we raise. `domain` is the
  // reporting driver's error domain.
  static Error internal(ErrorDomain d, std::string detail);
  static Error noSupport(ErrorDomain d, std::string apiName);
  static Error invalidArg(ErrorDomain d, std::string detail);
  static Error operationFailed(ErrorDomain d, std::string detail);
  static Error operationInvalid(ErrorDomain d, std::string detail);
  static Error operationDenied(ErrorDomain d, std::string detail);
  static Error xmlError(ErrorDomain d, std::string detail);
  static Error xmlDetail(ErrorDomain d, std::string detail);
  static Error xmlInvalidSchema(ErrorDomain d, std::string detail);
  static Error domExist(ErrorDomain d, std::string detail);
  static Error noDomain(ErrorDomain d, std::string detail);
  static Error configUnsupported(ErrorDomain d, std::string detail);
  static Error argumentUnsupported(ErrorDomain d, std::string detail);
  static Error unsupportedFlags(ErrorDomain d, unsigned flags, std::string_view function);
  static Error invalidArgIn(ErrorDomain d, std::string_view function, std::string_view argName, std::string message);
  static Error systemError(ErrorDomain d, int err, std::string detail);
  static Error noConnect(ErrorDomain d, std::string detail);
  static Error rpc(ErrorDomain d, std::string message);
  static Error noStoragePool(std::string detail);
  static Error noStorageVol(std::string detail);
  static Error storageVolExist(std::string name);
  static Error operationUnsupported(ErrorDomain d, std::string detail);
  static Error noNetwork(std::string detail);
  static Error networkExist(std::string detail);
  static Error noNetworkPort(std::string detail);
};

template <class T>
using Result = boost::system::result<T, Error>;

// Propagate a failed Result from the enclosing function (which returns a
// Result too); SV_TRY_ASSIGN also moves the value into `lhs`.
#define SV_TRY_VOID(expr)                       \
  do {                                          \
    auto sv_try_r_ = (expr);                    \
    if (!sv_try_r_) return sv_try_r_.error();   \
  } while (0)
#define SV_TRY_ASSIGN(lhs, expr)                \
  do {                                          \
    auto sv_try_r_ = (expr);                    \
    if (!sv_try_r_) return sv_try_r_.error();   \
    lhs = std::move(*sv_try_r_);                \
  } while (0)

// boost::system::result calls this (found by ADL) when value() is used on an error.
[[noreturn]] void throw_exception_from_error(const Error& e, const boost::source_location& loc);

}  // namespace splitvirt
