#include "snapshot/save_image.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>

namespace splitvirt::qemu {

namespace {

constexpr ErrorDomain kDom = ErrorDomain::Qemu;
constexpr char kMagic[] = "LibvirtQemudSave";
constexpr char kPartial[] = "LibvirtQemudPart";
constexpr uint32_t kVersion = 2;
constexpr uint32_t kPadding = 64 * 1024;

// virQEMUSaveHeader, byte for byte (92 bytes, host byte order).
struct Header {
  char magic[16];
  uint32_t version;
  uint32_t dataLen;
  uint32_t wasRunning;
  uint32_t compressed;
  uint32_t cookieOffset;
  uint32_t unused[14];
};
static_assert(sizeof(Header) == 92);

bool writeAll(int fd, const void* p, size_t n) {
  auto* c = static_cast<const char*>(p);
  while (n > 0) {
    ssize_t w = ::write(fd, c, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    c += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

bool readAll(int fd, void* p, size_t n) {
  auto* c = static_cast<char*>(p);
  while (n > 0) {
    ssize_t r = ::read(fd, c, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    c += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

Error failed(const std::string& what) { return Error::operationFailed(kDom, what); }

}  // namespace

Result<int> createSaveImage(const std::string& path, const std::string& domainXml, bool wasRunning,
                            bool overwrite) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | (overwrite ? O_TRUNC : O_EXCL), 0600);
  if (fd < 0) return Error::systemError(kDom, errno, "Failed to create file '" + path + "'");
  Header h{};
  std::memcpy(h.magic, kPartial, sizeof h.magic);
  h.version = kVersion;
  const size_t xmlLen = domainXml.size() + 1;
  h.dataLen = static_cast<uint32_t>(xmlLen + kPadding);
  h.wasRunning = wasRunning ? 1 : 0;
  std::string zeros(kPadding, '\0');
  if (!writeAll(fd, &h, sizeof h) || !writeAll(fd, domainXml.c_str(), xmlLen) ||
      !writeAll(fd, zeros.data(), zeros.size())) {
    int e = errno;
    ::close(fd);
    ::unlink(path.c_str());
    return Error::systemError(kDom, e, "failed to write header to domain save file '" + path + "'");
  }
  return fd;
}

Result<void> finishSaveImage(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return Error::systemError(kDom, errno, "unable to open '" + path + "'");
  bool ok = ::pwrite(fd, kMagic, 16, 0) == 16 && ::fdatasync(fd) == 0;
  int e = errno;
  ok = ::close(fd) == 0 && ok;
  if (!ok) return Error::systemError(kDom, e, "failed to write header to domain save file '" + path + "'");
  return {};
}

Result<void> rewriteSaveImage(const std::string& path, const std::string& domainXml, std::optional<bool> wasRunning) {
  auto img = openSaveImage(path);
  if (!img) return img.error();
  ::close(img->fd);
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return Error::systemError(kDom, errno, "cannot open file '" + path + "'");
  Header h{};
  if (::pread(fd, &h, sizeof h, 0) != static_cast<ssize_t>(sizeof h)) {
    ::close(fd);
    return failed("failed to read qemu header");
  }
  const size_t xmlLen = domainXml.size() + 1;
  if (std::memcmp(h.magic, kMagic, sizeof h.magic) != 0 || xmlLen > h.dataLen) {
    ::close(fd);
    return failed(xmlLen > h.dataLen ? "new xml too large to fit in file" : "image magic is incorrect");
  }
  std::string data(h.dataLen, '\0');
  std::memcpy(data.data(), domainXml.c_str(), xmlLen);
  h.cookieOffset = 0;  // a cookie of the old XML would be misread after the new one
  if (wasRunning) h.wasRunning = *wasRunning ? 1 : 0;
  bool ok = ::pwrite(fd, data.data(), data.size(), sizeof h) == static_cast<ssize_t>(data.size()) &&
            ::pwrite(fd, &h, sizeof h, 0) == static_cast<ssize_t>(sizeof h) && ::fdatasync(fd) == 0;
  int e = errno;
  ok = ::close(fd) == 0 && ok;
  if (!ok) return Error::systemError(kDom, e, "failed to write header data to '" + path + "'");
  return {};
}

Result<SaveImage> openSaveImage(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error::systemError(kDom, errno, "Failed to open file '" + path + "'");
  auto fail = [fd](Error e) -> Error {
    ::close(fd);
    return e;
  };
  Header h{};
  if (!readAll(fd, &h, sizeof h)) {
    // Short files can still be a (tiny) bare stream; QEMU judges those.
    if (::lseek(fd, 0, SEEK_SET) != 0) return fail(failed("failed to read qemu header"));
    char m[4] = {};
    if (::pread(fd, m, 4, 0) == 4 && std::memcmp(m, "QEVM", 4) == 0) return SaveImage{fd, {}, true};
    return fail(failed("failed to read qemu header"));
  }
  if (std::memcmp(h.magic, "QEVM", 4) == 0) {
    if (::lseek(fd, 0, SEEK_SET) != 0) return fail(failed("failed to read qemu header"));
    return SaveImage{fd, {}, true};
  }
  if (std::memcmp(h.magic, kMagic, sizeof h.magic) != 0)
    return fail(failed(std::memcmp(h.magic, kPartial, sizeof h.magic) == 0 ? "save image is incomplete"
                                                                            : "image magic is incorrect"));
  if (h.version > kVersion)
    return fail(failed("image version is not supported (" + std::to_string(h.version) + " > " +
                       std::to_string(kVersion) + ")"));
  if (h.dataLen == 0 || h.dataLen > (64u << 20))
    return fail(failed("invalid header data length: " + std::to_string(h.dataLen)));
  if (h.compressed != 0)
    return fail(Error::configUnsupported(kDom, "compressed save image '" + path + "' is not supported"));
  std::string data(h.dataLen, '\0');
  if (!readAll(fd, data.data(), data.size())) return fail(failed("failed to read domain XML"));
  SaveImage img;
  img.fd = fd;
  img.domainXml = data.substr(0, data.find('\0'));
  img.wasRunning = h.wasRunning != 0;
  return img;
}

}  // namespace splitvirt::qemu
