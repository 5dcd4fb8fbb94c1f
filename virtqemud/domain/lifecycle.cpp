// Guest lifecycle: start QEMU, talk to it over QMP, stop it, and follow what
// it does on its own (monitor events, exits). Restart safety: the status of
// every running guest is in <runDir>/qemu, and init() reconnects to them.
#include "domain/domain_common.hpp"
#include "domain/domain_status.hpp"
#include "domain/runtime.hpp"
#include "host/tap.hpp"
#include "protocol/storage_procs.hpp"
#include "rpc/sync_client.hpp"
#include "monitor/qmp_client.hpp"
#include "monitor/qmp_commands.hpp"
#include "process/command_builder.hpp"
#include "process/spawn.hpp"
#include "qemu_driver.hpp"
#include "util/fs.hpp"
#include "util/log.hpp"

#include <condition_variable>
#include <csignal>
#include <set>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <fstream>
#include <functional>
#include <sstream>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace splitvirt::qemu {

using objects::DomainState;
using objects::DomainView;

namespace {


std::string shortName(const std::string& name) { return name.substr(0, 20); }

}  // namespace


class QemuDriver::WorkQueue {
 public:
  WorkQueue() : thread_([this] { run(); }) {}
  ~WorkQueue() {
    {
      std::lock_guard lk(m_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void post(std::function<void()> fn) {
    {
      std::lock_guard lk(m_);
      q_.push_back(std::move(fn));
    }
    cv_.notify_one();
  }

 private:
  void run() {
    std::unique_lock lk(m_);
    for (;;) {
      cv_.wait(lk, [&] { return done_ || !q_.empty(); });
      if (q_.empty()) return;
      auto fn = std::move(q_.front());
      q_.pop_front();
      lk.unlock();
      fn();
      lk.lock();
    }
  }
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> q_;
  bool done_ = false;
  std::thread thread_;
};

std::shared_ptr<std::mutex> QemuDriver::jobLock(const conf::Uuid& uuid) {
  std::lock_guard lk(jobsMutex_);
  auto& m = jobs_[uuid];
  if (!m) m = std::make_shared<std::mutex>();
  return m;
}

std::shared_ptr<QemuDriver::Runtime> QemuDriver::runtime(const conf::Uuid& uuid) {
  std::lock_guard lk(runtimesMutex_);
  auto it = runtimes_.find(uuid);
  return it == runtimes_.end() ? nullptr : it->second;
}

// Monitor events and EOF are handed to the work queue, tagged with the
// runtime's generation so a late event of an old QEMU is ignored.
Result<void> QemuDriver::connectMonitor(const conf::Uuid& uuid, Runtime& rt, std::chrono::milliseconds deadline) {
  uint64_t gen = rt.generation;
  auto mon = QmpClient::connect(
      rt.monitorPath, deadline,
      [this, uuid, gen](const QmpEvent& ev) {
        work_->post([this, uuid, gen, name = ev.name, data = ev.dataJson] {
          handleMonitorEvent(uuid, gen, name, data);
        });
      },
      [this, uuid, gen] { work_->post([this, uuid, gen] { handleMonitorClosed(uuid, gen); }); });
  if (!mon) return mon.error();
  rt.mon = std::move(*mon);
  return {};
}

Result<void> QemuDriver::resolveVolumeDisks(conf::DomainDef& def) {
  std::unique_ptr<rpc::SyncClient> storage;
  for (auto& disk : def.disks) {
    if (disk.type != conf::DiskType::Volume) continue;
    if (!disk.sourcePool || !disk.sourceVolume)
      return Error::xmlError(ErrorDomain::Domain, "missing source pool or volume for disk " + disk.targetDev);
    if (!storage) {
      auto c = rpc::SyncClient::connect(paths_.runDir + "/virtstoraged-sock");
      if (!c) return c.error();
      storage = std::move(*c);
      if (auto r = storage->call(protocol::kAuthList, xdr::Void{}); !r) return r.error();
      if (auto r = storage->call(protocol::kConnectOpen, protocol::ConnectOpenArgs{"storage:///system", 0}); !r)
        return r.error();
    }
    auto pool = storage->call(protocol::kStoragePoolLookupByName, protocol::PoolNameArg{*disk.sourcePool});
    if (!pool) return pool.error();
    auto vol = storage->call(protocol::kStorageVolLookupByName,
                             protocol::VolLookupByNameArgs{pool->pool, *disk.sourceVolume});
    if (!vol) return vol.error();
    auto path = storage->call(protocol::kStorageVolGetPath, protocol::VolArg{vol->vol});
    if (!path) return path.error();
    auto info = storage->call(protocol::kStorageVolGetInfo, protocol::VolArg{vol->vol});
    if (!info) return info.error();
    // VIR_STORAGE_VOL_FILE / BLOCK; the definition keeps saying "volume".
    if (info->type != 0 && info->type != 1)
      return Error::configUnsupported(kErr, "disk " + disk.targetDev + ": volume '" + *disk.sourceVolume +
                                                "' of pool '" + *disk.sourcePool + "' is neither a file nor a block device");
    disk.type = info->type == 1 ? conf::DiskType::Block : conf::DiskType::File;
    disk.sourcePath = path->value;
  }
  return {};
}

// libvirt's VNC autoport range; a port is free if we have not handed it out
// and nothing else is bound to it.
int QemuDriver::allocateVncPort() {
  std::lock_guard lk(portsMutex_);
  for (int port = 5900; port < 65536; ++port) {
    if (vncPortsInUse_.count(port)) continue;
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_ANY);
    bool free = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    if (free) {
      vncPortsInUse_.insert(port);
      return port;
    }
  }
  return -1;
}

void QemuDriver::releaseVncPorts(const std::vector<int>& ports) {
  std::lock_guard lk(portsMutex_);
  for (int p : ports) vncPortsInUse_.erase(p);
}

pid_t QemuDriver::runningPid(const conf::Uuid& uuid) {
  auto rt = runtime(uuid);
  return rt ? rt->pid : 0;
}

Result<void> QemuDriver::saveStatus(const DomainView& v, const Runtime& rt) {
  DomainStatus s;
  s.name = v.def->name;
  s.id = v.id;
  s.pid = rt.pid;
  s.monitorPath = rt.monitorPath;
  s.domainDir = rt.domainDir;
  s.logPath = rt.logPath;
  s.state = static_cast<int>(v.state);
  s.reason = v.reason;
  s.persistent = v.persistent;
  s.liveXml = conf::formatDomainDef(*v.def, 0, v.id);
  return saveDomainStatus(statusDir_, s);
}

Result<bool> QemuDriver::claimLiveDomain(const std::shared_ptr<const conf::DomainDef>& def, bool mayBeDefined) {
  auto lk = domains_.writeLock();
  auto byUuid = domains_.findByUuid(def->uuid);
  auto byName = domains_.findByName(def->name);
  if (byUuid && byUuid->def->name != def->name)
    return Error::operationFailed(ErrorDomain::Domain, "domain '" + byUuid->def->name +
                                                           "' is already defined with uuid " +
                                                           conf::formatUuid(def->uuid));
  if (!byUuid && byName)
    return Error::operationFailed(ErrorDomain::Domain, "domain '" + def->name + "' already exists with uuid " +
                                                           conf::formatUuid(byName->def->uuid));
  if (byUuid && byUuid->active())
    return Error::operationInvalid(ErrorDomain::Domain, "domain '" + def->name + "' is already active");
  if (byUuid && !mayBeDefined)
    return Error::operationInvalid(kErr, "domain '" + def->name +
                                             "' is defined; start it instead of creating it from XML");
  if (byUuid) return false;
  DomainView v;
  v.def = def;
  v.persistent = false;
  domains_.put(v);
  return true;
}

Result<DomainView> QemuDriver::startDomain(const conf::Uuid& uuid, unsigned flags,
                                           std::shared_ptr<const conf::DomainDef> liveDef) {
  auto found = domains_.findByUuid(uuid);
  if (!found) return Error::noDomain(kErr, "no domain with matching uuid '" + conf::formatUuid(uuid) + "'");
  if (found->active()) return Error::operationInvalid(kErr, "domain is already running");
  const std::string name = found->def->name;
  // The live definition: a copy of the persistent one with what starting
  // decides (VNC autoport ports) filled in.
  auto live = std::make_shared<conf::DomainDef>(liveDef ? *liveDef : *found->def);

  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  auto ms = [&t0] { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); };
  int id = nextId_++;
  auto rt = std::make_shared<Runtime>();
  rt->generation = nextGeneration_++;
  rt->domainDir = paths_.stateDir + "/qemu/domain-" + std::to_string(id) + "-" + shortName(name);
  rt->monitorPath = rt->domainDir + "/monitor.sock";
  rt->logPath = paths_.logDir + "/qemu/" + name + ".log";
  if (auto r = fs::makeDirs(rt->domainDir, 0750, kErr); !r) return r.error();
  if (auto r = fs::makeDirs(paths_.logDir + "/qemu", 0750, kErr); !r) return r.error();
  ::unlink(rt->monitorPath.c_str());

  for (auto& g : live->graphics) {
    if (g.type != conf::GraphicsType::Vnc || (g.port > 0 && !g.autoport.value_or(false))) continue;
    int port = allocateVncPort();
    if (port < 0) {
      releaseVncPorts(rt->vncPorts);
      return Error::internal(kErr, "Unable to find an unused port for VNC");
    }
    g.port = port;
    rt->vncPorts.push_back(port);
  }
  // NICs on a host bridge get a tap we create and plug in; QEMU gets its fd.
  // Our fds close once QEMU has them, so a tap lives exactly as long as QEMU.
  std::vector<int> tapFds;
  auto closeTaps = [&tapFds] {
    for (int fd : tapFds) ::close(fd);
    tapFds.clear();
  };
  if (auto r = allocateNetworkPorts(*live); !r) {
    releaseVncPorts(rt->vncPorts);
    return r.error();
  }
  // Until the guest is registered (finishStop then owns the cleanup), a
  // failed start gives its network ports back.
  struct PortGuard {
    QemuDriver* driver;
    std::shared_ptr<conf::DomainDef> def;
    bool armed = true;
    ~PortGuard() {
      if (armed) driver->releaseNetworkPorts(*def);
    }
  } portGuard{this, live};
  for (auto& net : live->nets) {
    const bool onBridge = net.type == conf::NetType::Bridge || net.type == conf::NetType::Network;
    if (!onBridge && net.type != conf::NetType::Ethernet) continue;
    // libvirt honours a <target dev> unless it uses its own reserved prefix.
    std::string want = net.targetDev && net.targetDev->rfind("vnet", 0) != 0 ? *net.targetDev : "vnet%d";
    auto tap = host::createTap(want);
    Result<void> r = tap ? Result<void>{} : Result<void>(tap.error());
    if (tap) {
      tapFds.push_back(tap->fd);
      net.targetDev = tap->name;
      if (net.mac) r = host::setTapMac(tap->name, *net.mac);
      if (r && onBridge) {
        const std::string bridge = net.sourceBridge.value_or("");
        if (!host::interfaceExists(bridge))
          r = Error::systemError(kErr, ENODEV, "Cannot get interface MTU on '" + bridge + "'");
        if (r)
          if (auto mtu = host::getMtu(bridge)) r = host::setMtu(tap->name, *mtu);
        if (r) r = host::bridgeAddInterface(bridge, tap->name);
      }
      if (r) r = host::setInterfaceUp(tap->name, true);
    }
    if (!r) {
      closeTaps();
      releaseVncPorts(rt->vncPorts);
      return r.error();
    }
  }
  const std::shared_ptr<const conf::DomainDef> def = live;

  CommandOptions opts;
  opts.tapFds = tapFds;
  opts.emulator = def->emulator.value_or(kDefaultEmulator);
  opts.monitorSocketPath = rt->monitorPath;
  opts.pidFilePath = rt->domainDir + "/qemu.pid";
  opts.logFilePath = rt->logPath;
  opts.domainDir = rt->domainDir;
  opts.startPaused = true;
  opts.incomingDefer = flags & kStartIncoming;
  opts.kvmAvailable = ::access("/dev/kvm", R_OK | W_OK) == 0;
  // <disk type='volume'>: virtstoraged says which file or device it is; the
  // live XML keeps naming the pool and volume.
  conf::DomainDef resolved = *def;
  if (auto r = resolveVolumeDisks(resolved); !r) {
    closeTaps();
    releaseVncPorts(rt->vncPorts);
    return r.error();
  }
  auto argv = buildCommandLine(resolved, opts);
  if (!argv) {
    closeTaps();
    releaseVncPorts(rt->vncPorts);
    return argv.error();
  }

  {
    std::ofstream logf(rt->logPath, std::ios::app);
    std::time_t now = std::time(nullptr);
    char ts[64];
    std::strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%S", std::gmtime(&now));
    logf << ts << ": starting up\n" << formatCommandLine(*argv) << "\n";
  }
  // Until the guest is registered, a daemon restarted after a crash must be
  // able to find (and kill) this QEMU: by its pid once known, before that
  // by its monitor path, which only this start's command line holds.
  DomainStatus starting;
  starting.name = name;
  starting.id = id;
  starting.monitorPath = rt->monitorPath;
  starting.domainDir = rt->domainDir;
  starting.logPath = rt->logPath;
  starting.state = static_cast<int>(DomainState::Paused);
  starting.persistent = found->persistent;
  starting.starting = true;
  starting.liveXml = conf::formatDomainDef(*def, 0, id);
  (void)saveDomainStatus(statusDir_, starting);
  auto pid = spawnProcess(*argv, rt->logPath, tapFds);
  closeTaps();
  if (!pid) {
    removeDomainStatus(statusDir_, name);
    releaseVncPorts(rt->vncPorts);
    return pid.error();
  }
  rt->pid = *pid;
  const double tSpawned = ms();
  starting.pid = rt->pid;
  (void)saveDomainStatus(statusDir_, starting);

  auto fail = [&](Error e) -> Error {
    releaseVncPorts(rt->vncPorts);
    rt->stopping = true;
    rt->mon.reset();
    terminateProcess(rt->pid, std::chrono::seconds(2), std::chrono::seconds(5));
    removeDomainStatus(statusDir_, name);
    ::unlink(rt->monitorPath.c_str());
    ::rmdir(rt->domainDir.c_str());
    return e;
  };

  // Wait for the monitor socket, failing fast if QEMU exits first.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    if (reapIfExited(rt->pid)) {
      std::string tail = logTail(rt->logPath, 1024);
      return fail(Error::operationFailed(kErr, "domain '" + name + "': QEMU exited while starting: " + tail));
    }
    if (fs::exists(rt->monitorPath)) break;
    if (std::chrono::steady_clock::now() > deadline)
      return fail(Error::operationFailed(kErr, "monitor socket did not show up: " + rt->monitorPath));
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }

  const double tSocket = ms();
  if (auto r = connectMonitor(uuid, *rt, std::chrono::seconds(10)); !r) return fail(r.error());
  const double tMonitor = ms();

  {
    std::lock_guard lk(runtimesMutex_);
    runtimes_[uuid] = rt;
  }
  portGuard.armed = false;
  auto view = domains_.update(uuid, [&](DomainView& v) {
    if (v.persistent && !v.newDef) v.newDef = v.def;
    v.def = def;
    v.id = id;
    v.state = DomainState::Paused;
    v.reason = kPausedUser;
  });
  if (view) (void)saveStatus(*view, *rt);

  const bool paused = flags & kStartPaused;
  const bool fromSnapshot = flags & kStartFromSnapshot;
  if (!paused && !(flags & kStartNoResume)) {
    rt->expectResume = true;  // consumed by the RESUME event handler
    auto r = cont(*rt->mon);
    if (!r) {
      rt->expectResume = false;
      Error e = r.error();
      finishStop(uuid, kShutoffUnknown, -1);
      return e;
    }
  }
  if (flags & kStartNoResume) return *domains_.findByUuid(uuid);  // the caller finishes the start
  view = domains_.update(uuid, [&](DomainView& v) {
    v.state = paused ? DomainState::Paused : DomainState::Running;
    v.reason = paused ? (fromSnapshot ? kPausedFromSnapshot : kPausedUser)
                      : (fromSnapshot ? kRunningFromSnapshot : kRunningBooted);
  });
  if (!view) return Error::internal(kErr, "domain vanished while starting");
  (void)saveStatus(*view, *rt);
  if (fromSnapshot) {
    events_->domainLifecycle(handleOf(*view), kEvStarted, kDetailStartedFromSnapshot);
    events_->domainLifecycle(handleOf(*view), paused ? kEvSuspended : kEvResumed,
                             paused ? kDetailSuspendedFromSnapshot : kDetailResumedFromSnapshot);
    return *view;
  }
  // As libvirt: QEMU's RESUME after `cont` is reported first, then the start.
  if (!paused) events_->domainLifecycle(handleOf(*view), kEvResumed, kDetailUnpaused);
  events_->domainLifecycle(handleOf(*view), kEvStarted, kDetailBooted);
  if (paused) events_->domainLifecycle(handleOf(*view), kEvSuspended, kDetailPaused);
  log::info("domain %s started, pid %d, id %d in %.1f ms (exec %.1f, monitor socket %.1f, QMP ready %.1f)",
            name.c_str(), static_cast<int>(rt->pid), id, ms(), tSpawned, tSocket, tMonitor);
  return *view;
}

// Caller holds the job lock. Takes the process down (if still there) and
// records the new state; stoppedDetail < 0 means no event.
void QemuDriver::finishStop(const conf::Uuid& uuid, int shutoffReason, int stoppedDetail) {
  std::shared_ptr<Runtime> rt;
  {
    std::lock_guard lk(runtimesMutex_);
    auto it = runtimes_.find(uuid);
    if (it != runtimes_.end()) {
      rt = it->second;
      runtimes_.erase(it);
    }
  }
  auto v = domains_.findByUuid(uuid);
  if (rt) {
    rt->stopping = true;
    rt->mon.reset();
    releaseVncPorts(rt->vncPorts);
    if (!terminateProcess(rt->pid, std::chrono::seconds(10), std::chrono::seconds(5)))
      log::error("QEMU pid %d would not die", static_cast<int>(rt->pid));
    ::unlink(rt->monitorPath.c_str());
    ::unlink((rt->domainDir + "/qemu.pid").c_str());
    ::rmdir(rt->domainDir.c_str());
  }
  if (!v) return;
  if (rt) releaseNetworkPorts(*v->def);
  removeDomainStatus(statusDir_, v->def->name);
  DomainView before = *v;
  if (v->persistent) {
    domains_.update(uuid, [&](DomainView& d) {
      d.id = -1;
      d.state = DomainState::Shutoff;
      d.reason = shutoffReason;
      if (d.newDef) {
        d.def = d.newDef;
        d.newDef = nullptr;
      }
    });
  } else {
    domains_.remove(uuid);
  }
  // A transient guest just disappears: libvirt sends no UNDEFINED for it.
  if (stoppedDetail >= 0) events_->domainLifecycle(handleOf(before), kEvStopped, stoppedDetail);
}

Result<void> QemuDriver::stopDomain(const conf::Uuid& uuid, bool graceful) {
  auto v = domains_.findByUuid(uuid);
  if (!v) return Error::noDomain(kErr, "no domain with matching uuid '" + conf::formatUuid(uuid) + "'");
  // libvirt's generic active check: error domain DOMAIN.
  if (!v->active()) return Error::operationInvalid(ErrorDomain::Domain, "domain is not running");
  auto rt = runtime(uuid);
  if (rt && graceful) {
    rt->stopping = true;
    ::kill(rt->pid, SIGTERM);
    if (!terminateProcess(rt->pid, std::chrono::seconds(10), std::chrono::seconds(0))) {
      rt->stopping = false;
      return Error::make(ErrorCode::SystemError, kErr, "%s", "", std::string(
          "Failed to terminate process " + std::to_string(rt->pid) + " with SIGTERM: Device or resource busy"));
    }
  }
  // QEMU reports the SIGTERM as a host-initiated SHUTDOWN; libvirt relays it.
  events_->domainLifecycle(handleOf(*v), kEvShutdown, kDetailShutdownHost);
  finishStop(uuid, kShutoffDestroyed, kDetailDestroyed);
  return {};
}

void QemuDriver::handleMonitorEvent(const conf::Uuid& uuid, uint64_t generation, const std::string& name,
                                    const std::string& dataJson) {
  auto rt = runtime(uuid);
  if (!rt || rt->generation != generation || rt->stopping) return;
  auto v = domains_.findByUuid(uuid);
  if (!v) return;
  if (name == "BLOCK_JOB_READY" || name == "BLOCK_JOB_COMPLETED" || name == "BLOCK_JOB_CANCELLED") {
    handleBlockJobEvent(uuid, *rt, name, dataJson);
  } else if (name == "STOP") {
    if (rt->stopAfterShutdown.exchange(false)) return;
    // Our own suspend: the command records the state; the flag is consumed here,
    // so it cannot be cleared before its event is seen.
    if (rt->expectStop.exchange(false)) return;
    bool changed = false;
    auto nv = domains_.update(uuid, [&](DomainView& d) {
      if (d.state == DomainState::Paused) return;  // decided under the lock, not on a stale view
      d.state = DomainState::Paused;
      d.reason = kPausedUnknown;
      changed = true;
    });
    if (nv && changed) {
      (void)saveStatus(*nv, *rt);
      events_->domainLifecycle(handleOf(*nv), kEvSuspended, kDetailPaused);
    }
  } else if (name == "RESUME") {
    if (rt->expectResume.exchange(false)) return;
    bool changed = false;
    auto nv = domains_.update(uuid, [&](DomainView& d) {
      if (d.state == DomainState::Running) return;
      d.state = DomainState::Running;
      d.reason = kRunningUnpaused;
      changed = true;
    });
    if (nv && changed) {
      (void)saveStatus(*nv, *rt);
      events_->domainLifecycle(handleOf(*nv), kEvResumed, kDetailUnpaused);
    }
  } else if (name == "DEVICE_DELETED") {
    // {"device": "virtio-disk1", "path": ...}; backend-only deletions have no "device".
    auto key = dataJson.find("\"device\"");
    if (key == std::string::npos) return;
    auto q1 = dataJson.find('"', dataJson.find(':', key) + 1);
    auto q2 = q1 == std::string::npos ? q1 : dataJson.find('"', q1 + 1);
    if (q2 == std::string::npos) return;
    handleDeviceDeleted(uuid, *rt, dataJson.substr(q1 + 1, q2 - q1 - 1));
  } else if (name == "BALLOON_CHANGE") {
    // {"actual": bytes}: what the guest gave back; the live <currentMemory>.
    auto key = dataJson.find("\"actual\"");
    if (key == std::string::npos) return;
    unsigned long long actual = std::strtoull(dataJson.c_str() + dataJson.find(':', key) + 1, nullptr, 10);
    auto nv = domains_.update(uuid, [&](DomainView& d) {
      auto def = std::make_shared<conf::DomainDef>(*d.def);
      def->currentMemoryKiB = actual / 1024;
      d.def = def;
    });
    if (nv) {
      (void)saveStatus(*nv, *rt);
      events_->domainBalloonChange(handleOf(*nv), actual / 1024);
    }
  } else if (name == "RESET") {
    events_->domainReboot(handleOf(*v));
  } else if (name == "SHUTDOWN") {
    rt->stopAfterShutdown = true;
    bool guest = dataJson.find("\"guest\": true") != std::string::npos ||
                 dataJson.find("\"guest\":true") != std::string::npos;
    if (rt->fakeReboot.exchange(false)) {
      // virsh reboot (ACPI): the guest powered off; reset and run it again.
      auto lock = jobLock(uuid);
      std::lock_guard jl(*lock);
      if (rt->mon) {
        (void)systemReset(*rt->mon);
        rt->expectResume = true;
        if (!cont(*rt->mon)) rt->expectResume = false;
      }
      return;
    }
    rt->guestShutdown = true;
    events_->domainLifecycle(handleOf(*v), kEvShutdown, guest ? kDetailShutdownGuest : kDetailShutdownHost);
    // on_poweroff: QEMU runs with -no-shutdown, so the daemon ends it.
    auto lock = jobLock(uuid);
    std::lock_guard jl(*lock);
    auto cur = runtime(uuid);
    if (cur && cur->generation == generation)
      finishStop(uuid, kShutoffShutdown, kDetailStoppedShutdown);
  }
}

void QemuDriver::handleMonitorClosed(const conf::Uuid& uuid, uint64_t generation) {
  auto lock = jobLock(uuid);
  std::lock_guard jl(*lock);
  auto rt = runtime(uuid);
  if (!rt || rt->generation != generation || rt->stopping) return;
  bool clean = rt->guestShutdown;
  log::warn("monitor of domain %s closed: QEMU pid %d exited", conf::formatUuid(uuid).c_str(),
            static_cast<int>(rt->pid));
  finishStop(uuid, clean ? kShutoffShutdown : kShutoffCrashed, clean ? kDetailStoppedShutdown : kDetailFailed);
}

void QemuDriver::reconnectAll() {
  for (auto& s : loadDomainStatuses(statusDir_)) {
    auto v = domains_.findByName(s.name);
    std::shared_ptr<const conf::DomainDef> liveDef;
    if (auto parsed = conf::parseDomainDef(s.liveXml, 0, ErrorDomain::Domain)) {
      liveDef = std::make_shared<const conf::DomainDef>(std::move(*parsed));
    }
    bool alive = processMatches(s.pid, "guest=" + s.name);
    // A start the last run did not finish: the guest is not running; its
    // QEMU, if any, is killed with the other strays below.
    if (s.starting) alive = false;
    if (!alive || (!v && !liveDef)) {
      log::warn("domain %s (pid %d) is gone since the last run", s.name.c_str(), static_cast<int>(s.pid));
      if (liveDef) releaseNetworkPorts(*liveDef);
      removeDomainStatus(statusDir_, s.name);
      ::unlink(s.monitorPath.c_str());
      ::rmdir(s.domainDir.c_str());
      if (v) {
        domains_.update(v->def->uuid, [](DomainView& d) {
          d.id = -1;
          d.state = DomainState::Shutoff;
          d.reason = kShutoffUnknown;
        });
      }
      continue;
    }
    if (!v) {
      // A transient guest: it exists only while it runs.
      DomainView nv;
      nv.def = liveDef;
      nv.persistent = false;
      domains_.put(nv);
      v = nv;
    }
    conf::Uuid uuid = v->def->uuid;
    auto rt = std::make_shared<Runtime>();
    rt->pid = s.pid;
    rt->generation = nextGeneration_++;
    rt->monitorPath = s.monitorPath;
    rt->domainDir = s.domainDir;
    rt->logPath = s.logPath;
    if (liveDef) {
      std::lock_guard pl(portsMutex_);
      for (auto& g : liveDef->graphics)
        if (g.type == conf::GraphicsType::Vnc && g.port >= 5900) {
          vncPortsInUse_.insert(g.port);
          rt->vncPorts.push_back(g.port);
        }
    }
    if (auto r = connectMonitor(uuid, *rt, std::chrono::seconds(5)); !r) {
      log::error("cannot reconnect to domain %s: %s", s.name.c_str(), r.error().message.c_str());
      {
        std::lock_guard lk(runtimesMutex_);
        runtimes_[uuid] = rt;
      }
      auto lock = jobLock(uuid);
      std::lock_guard jl(*lock);
      domains_.update(uuid, [&](DomainView& d) { d.id = s.id; });
      finishStop(uuid, kShutoffUnknown, -1);
      continue;
    }
    auto st = queryStatus(*rt->mon);
    bool running = st && st->running;
    {
      std::lock_guard lk(runtimesMutex_);
      runtimes_[uuid] = rt;
    }
    domains_.update(uuid, [&](DomainView& d) {
      d.id = s.id;
      if (liveDef && d.persistent) {
        d.newDef = d.def;
        d.def = liveDef;
      } else if (liveDef) {
        d.def = liveDef;
      }
      d.state = running ? DomainState::Running : DomainState::Paused;
      d.reason = running ? (s.state == static_cast<int>(DomainState::Running) ? s.reason : kRunningUnpaused)
                         : (s.state == static_cast<int>(DomainState::Paused) ? s.reason : kPausedUnknown);
    });
    int next = nextId_.load();
    while (s.id >= next && !nextId_.compare_exchange_weak(next, s.id + 1)) {
    }
    log::info("reconnected to domain %s (pid %d, id %d)", s.name.c_str(), static_cast<int>(s.pid), s.id);
  }
  // A QEMU of ours that no status file accounts for (a start the last run
  // did not get to record): its monitor lives in our state directory, but
  // no guest is it. Left alone it would hold the guest's images.
  std::set<pid_t> known;
  {
    std::lock_guard lk(runtimesMutex_);
    for (auto& [u, rt] : runtimes_) known.insert(rt->pid);
  }
  for (pid_t p : findProcesses("path=" + paths_.stateDir + "/qemu/domain-")) {
    if (known.count(p) || p == ::getpid()) continue;
    log::warn("QEMU pid %d belongs to no guest (left by the last run): killing it", static_cast<int>(p));
    terminateProcess(p, std::chrono::seconds(2), std::chrono::seconds(5));
  }
}

void QemuDriver::autostartAll() {
  for (auto& v : domains_.all()) {
    if (!v.autostart || v.active()) continue;
    auto lock = jobLock(v.def->uuid);
    std::lock_guard jl(*lock);
    auto r = startOrRestore(v.def->uuid, 0);
    if (!r) log::error("failed to autostart domain %s: %s", v.def->name.c_str(), r.error().message.c_str());
  }
}

QemuDriver::QemuDriver() = default;
QemuDriver::~QemuDriver() { shutdown(); }

Result<void> QemuDriver::initLifecycle() {
  statusDir_ = paths_.runDir + "/qemu";
  if (auto r = fs::makeDirs(statusDir_, 0755, kErr); !r) return r;
  if (auto r = fs::makeDirs(paths_.stateDir + "/qemu", 0751, kErr); !r) return r;
  work_ = std::make_unique<WorkQueue>();
  reconnectAll();
  work_->post([this] { autostartAll(); });
  return {};
}

void QemuDriver::shutdown() {
  // Guests keep running (KillMode=process): only let go of the monitors.
  std::map<conf::Uuid, std::shared_ptr<Runtime>> all;
  {
    std::lock_guard lk(runtimesMutex_);
    all.swap(runtimes_);
  }
  // Stop the worker first: queued handlers must not run on a half-torn driver.
  work_.reset();
  for (auto& [u, rt] : all) {
    rt->stopping = true;
    rt->mon.reset();
  }
}

}  // namespace splitvirt::qemu
