#include "util/fs.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace splitvirt::fs {

namespace {
std::string dirOf(const std::string& path) {
  auto pos = path.rfind('/');
  if (pos == std::string::npos) return ".";
  if (pos == 0) return "/";
  return path.substr(0, pos);
}

Result<void> writeTemp(const std::string& tmp, std::string_view content, unsigned mode, ErrorDomain d) {
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return Error::systemError(d, errno, "cannot create file '" + tmp + "'");
  size_t off = 0;
  while (off < content.size()) {
    ssize_t n = ::write(fd, content.data() + off, content.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return Error::systemError(d, e, "cannot write file '" + tmp + "'");
    }
    off += static_cast<size_t>(n);
  }
  if (::fdatasync(fd) < 0) {
    int e = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return Error::systemError(d, e, "cannot sync file '" + tmp + "'");
  }
  ::close(fd);
  return {};
}
}  // namespace

Result<void> fsyncDir(const std::string& dir, ErrorDomain d) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Error::systemError(d, errno, "cannot open directory '" + dir + "'");
  int rc = ::fsync(fd);
  int e = errno;
  ::close(fd);
  if (rc < 0) return Error::systemError(d, e, "cannot sync directory '" + dir + "'");
  return {};
}

Result<void> atomicWriteFile(const std::string& path, std::string_view content, unsigned mode, ErrorDomain d) {
  std::string tmp = path + std::string(kTempSuffix);
  if (auto r = writeTemp(tmp, content, mode, d); !r) return r;
  if (::rename(tmp.c_str(), path.c_str()) < 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return Error::systemError(d, e, "cannot rename '" + tmp + "' to '" + path + "'");
  }
  return fsyncDir(dirOf(path), d);
}

Result<void> atomicWriteFiles(const std::string& dir, const std::vector<std::pair<std::string, std::string>>& files,
                              unsigned mode, ErrorDomain d) {
  for (auto& [name, content] : files) {
    std::string path = dir + "/" + name;
    std::string tmp = path + std::string(kTempSuffix);
    if (auto r = writeTemp(tmp, content, mode, d); !r) return r;
    if (::rename(tmp.c_str(), path.c_str()) < 0) {
      int e = errno;
      ::unlink(tmp.c_str());
      return Error::systemError(d, e, "cannot rename '" + tmp + "' to '" + path + "'");
    }
  }
  return fsyncDir(dir, d);
}

Result<void> removeFileDurably(const std::string& path, ErrorDomain d) {
  if (::unlink(path.c_str()) < 0 && errno != ENOENT)
    return Error::systemError(d, errno, "cannot remove file '" + path + "'");
  return fsyncDir(dirOf(path), d);
}

Result<void> makeDirs(const std::string& path, unsigned mode, ErrorDomain d) {
  std::string cur;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    cur = path.substr(0, pos);
    if (cur.empty()) continue;
    if (::mkdir(cur.c_str(), mode) < 0 && errno != EEXIST)
      return Error::systemError(d, errno, "cannot create directory '" + cur + "'");
  }
  return {};
}

Result<std::string> readFile(const std::string& path, ErrorDomain d) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error::systemError(d, errno, "cannot open file '" + path + "'");
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      return Error::systemError(d, e, "cannot read file '" + path + "'");
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

bool exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

}  // namespace splitvirt::fs
