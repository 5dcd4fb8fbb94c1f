#include "snapshot/image_graph.hpp"

#include "util/command.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <sys/stat.h>

namespace splitvirt::qemu {

namespace {

constexpr ErrorDomain kErr = ErrorDomain::Qemu;
constexpr const char* kQemuImg = "/usr/bin/qemu-img";

Result<ImageGraph::Image> inspect(const std::string& file) {
  auto r = runCommandChecked({kQemuImg, "info", "-U", "--output=json", file}, std::chrono::minutes(1), kErr);
  if (!r) return r.error();
  boost::system::error_code ec;
  auto v = boost::json::parse(r->out, ec);
  const auto* o = ec ? nullptr : v.if_object();
  if (!o) return Error::internal(kErr, "cannot read the image information of '" + file + "'");
  ImageGraph::Image img;
  if (auto* f = o->if_contains("format"); f && f->is_string()) img.format = std::string(f->as_string());
  if (auto* s = o->if_contains("virtual-size"); s && s->is_number()) img.virtualSize = s->to_number<uint64_t>();
  for (const char* key : {"full-backing-filename", "backing-filename"})
    if (auto* b = o->if_contains(key); b && b->is_string() && !img.backing) img.backing = std::string(b->as_string());
  return img;
}

}  // namespace

std::optional<std::string> ImageGraph::backingOf(const std::string& f) const {
  auto it = images.find(f);
  return it == images.end() ? std::nullopt : it->second.backing;
}

std::string ImageGraph::formatOf(const std::string& f) const {
  auto it = images.find(f);
  return it == images.end() || it->second.format.empty() ? "qcow2" : it->second.format;
}

std::vector<std::string> ImageGraph::dependents(const std::string& f) const {
  std::vector<std::string> out;
  for (auto& [name, img] : images)
    if (img.backing == f) out.push_back(name);
  return out;
}

Result<ImageGraph> scanImages(const std::set<std::string>& files) {
  ImageGraph g;
  std::vector<std::string> todo(files.begin(), files.end());
  while (!todo.empty()) {
    std::string f = todo.back();
    todo.pop_back();
    if (f.empty() || g.has(f)) continue;
    struct stat st {};
    if (::stat(f.c_str(), &st) != 0) continue;
    auto img = inspect(f);
    if (!img) return img.error();
    if (img->backing) todo.push_back(*img->backing);
    g.images[f] = std::move(*img);
  }
  return g;
}

Result<void> createOverlay(const std::string& path, const std::string& backing, const std::string& backingFormat,
                           std::optional<uint64_t> sizeIfLocked) {
  std::vector<std::string> argv{kQemuImg, "create", "-q", "-f", "qcow2", "-F", backingFormat, "-b", backing};
  if (sizeIfLocked) argv.insert(argv.begin() + 2, "-u");
  argv.push_back(path);
  if (sizeIfLocked) argv.push_back(std::to_string(*sizeIfLocked));
  auto r = runCommandChecked(argv, std::chrono::minutes(1), kErr);
  if (!r) return r.error();
  return {};
}

Result<void> commitOffline(const std::string& image) {
  auto r = runCommandChecked({kQemuImg, "commit", "-q", image}, std::chrono::hours(2), kErr);
  if (!r) return r.error();
  return {};
}

Result<void> rebaseUnsafe(const std::string& image, const std::string& newBacking, const std::string& newFormat) {
  auto r = runCommandChecked({kQemuImg, "rebase", "-u", "-F", newFormat, "-b", newBacking, image},
                             std::chrono::minutes(1), kErr);
  if (!r) return r.error();
  return {};
}

Result<void> rebaseSafe(const std::string& image, const std::string& newBacking, const std::string& newFormat) {
  std::vector<std::string> argv{kQemuImg, "rebase", "-f", "qcow2"};
  if (!newBacking.empty()) {
    argv.push_back("-F");
    argv.push_back(newFormat);
  }
  argv.push_back("-b");
  argv.push_back(newBacking);
  argv.push_back(image);
  auto r = runCommandChecked(argv, std::chrono::hours(2), kErr);
  if (!r) return r.error();
  return {};
}

}  // namespace splitvirt::qemu
