#include "qemu_driver.hpp"

#include "daemon/forward.hpp"

#include "util/log.hpp"

namespace splitvirt::qemu {

Result<void> QemuDriver::init(const daemon::DaemonPaths& paths, daemon::EventBus& events) {
  paths_ = paths;
  events_ = &events;
  store_ = std::make_unique<objects::DomainStore>(paths.configDir + "/qemu", ErrorDomain::Qemu);
  if (auto r = store_->prepare(); !r) return r;
  for (auto& s : store_->loadAll()) {
    objects::DomainView v;
    v.def = std::make_shared<const conf::DomainDef>(std::move(s.def));
    v.autostart = s.autostart;
    v.persistent = true;
    v.state = objects::DomainState::Shutoff;
    v.reason = 0;  // VIR_DOMAIN_SHUTOFF_UNKNOWN
    domains_.put(std::move(v));
  }
  log::info("loaded %zu domain definitions", domains_.all().size());
  loadSnapshots();
  SV_TRY_VOID(initLifecycle());
  resumeSnapshotDeletes();
  return {};
}

void QemuDriver::bind(rpc::Program& p) {
  bindHost(p);
  bindDomain(p);
  bindLifecycle(p);
  bindConsole(p);
  bindHotplug(p);
  bindSnapshots(p);
  bindSave(p);
  bindStats(p);
  bindControl(p);
  bindResize(p);
  bindMetadata(p);
  bindRenameNative(p);
  bindBlockJobs(p);
  // The storage and network APIs on a qemu:///system connection live in
  // virtstoraged and virtnetworkd.
  daemon::bindForwarding(p, {protocol::Family::Storage, paths_.runDir + "/virtstoraged-sock", "storage:///system"});
  daemon::bindForwarding(p, {protocol::Family::Network, paths_.runDir + "/virtnetworkd-sock", "network:///system"});
}

// URI rules of virtqemud 9.0 (a system daemon): qemu:///system, or the empty
// URI, which the daemon probes to its own. Anything else is not ours.
Result<std::string> QemuDriver::openConnection(rpc::ConnContext&, const std::string& uri, unsigned) {
  if (uri.empty()) return std::string("qemu:///system");
  auto colon = uri.find(':');
  std::string scheme = colon == std::string::npos ? "" : uri.substr(0, colon);
  auto plus = scheme.find('+');
  if (plus != std::string::npos) scheme = scheme.substr(0, plus);
  std::string rest = colon == std::string::npos ? "" : uri.substr(colon + 1);
  if (scheme != "qemu" || rest.rfind("///", 0) != 0)
    return Error::noConnect(ErrorDomain::None, uri);
  std::string path = rest.substr(2);
  auto q = path.find('?');
  if (q != std::string::npos) path = path.substr(0, q);
  if (path == "/system") return std::string("qemu:///system");
  return Error::internal(ErrorDomain::Qemu, "unexpected qemu URI path '" + path + "', try qemu:///system");
}

bool QemuDriver::inhibitsIdleExit() const {
  for (auto& d : domains_.all())
    if (d.active()) return true;
  return false;
}

}  // namespace splitvirt::qemu
