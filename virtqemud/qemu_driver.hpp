// virtqemud's driver: thin; validates, takes the lock, delegates to the
// object list / store and (later) the QEMU process layer.
#pragma once

#include "daemon/driver.hpp"
#include "daemon/event_bus.hpp"
#include "objects/domain_list.hpp"
#include "objects/domain_store.hpp"
#include "objects/snapshot_store.hpp"

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace splitvirt::qemu {

inline constexpr const char* kDefaultEmulator = "/usr/bin/qemu-system-x86_64";

class QemuDriver final : public daemon::Driver {
 public:
  QemuDriver();
  ~QemuDriver() override;

  Result<void> init(const daemon::DaemonPaths& paths, daemon::EventBus& events) override;
  void bind(rpc::Program& program) override;
  void bindQemu(rpc::Program& program) override;
  Result<std::string> openConnection(rpc::ConnContext& ctx, const std::string& uri, unsigned flags) override;
  bool inhibitsIdleExit() const override;
  void shutdown() override;

  objects::DomainList& domains() { return domains_; }
  objects::DomainStore& store() { return *store_; }
  daemon::EventBus& events() { return *events_; }
  const daemon::DaemonPaths& paths() const { return paths_; }

 private:
  struct Runtime;
  class WorkQueue;
  // A device QEMU was asked to release (device_del), and what to tidy then.
  struct PendingUnplug {
    std::string formatNode, storageNode, netdev;
    std::string deviceXml;  // identifies it in the live definition
  };

  void bindHost(rpc::Program& p);
  void bindDomain(rpc::Program& p);
  void bindLifecycle(rpc::Program& p);
  void bindConsole(rpc::Program& p);
  void bindHotplug(rpc::Program& p);
  void bindSnapshots(rpc::Program& p);
  Result<void> savePersistentDef(const conf::Uuid& uuid, std::shared_ptr<const conf::DomainDef> def);
  Result<void> hotplugAttach(const conf::Uuid& uuid, const std::string& xml, uint32_t flags);
  Result<void> hotplugDetach(const conf::Uuid& uuid, const std::string& xml, uint32_t flags);
  void completeUnplug(const conf::Uuid& uuid, Runtime& rt, const std::string& alias);
  void handleDeviceDeleted(const conf::Uuid& uuid, Runtime& rt, const std::string& alias);

  // Lifecycle (domain/lifecycle.cpp). Callers hold the domain's job lock.
  std::shared_ptr<std::mutex> jobLock(const conf::Uuid& uuid);
  // liveDef: the definition to start from instead of the persistent one
  // (a restore starts from the saved image's).
  Result<objects::DomainView> startDomain(const conf::Uuid& uuid, unsigned flags,
                                          std::shared_ptr<const conf::DomainDef> liveDef = nullptr);
  Result<void> stopDomain(const conf::Uuid& uuid, bool graceful);
  // A guest about to run from `def` (create from XML, restore): refuses a
  // clash with another guest's name or uuid, or a running one; registers a
  // transient guest when none has its uuid (returns true then). A defined,
  // shut-off guest is accepted only when `mayBeDefined`.
  Result<bool> claimLiveDomain(const std::shared_ptr<const conf::DomainDef>& def, bool mayBeDefined);
  void finishStop(const conf::Uuid& uuid, int shutoffReason, int stoppedDetail);
  std::shared_ptr<Runtime> runtime(const conf::Uuid& uuid);
  pid_t runningPid(const conf::Uuid& uuid);
  Result<void> connectMonitor(const conf::Uuid& uuid, Runtime& rt, std::chrono::milliseconds deadline);
  void handleMonitorEvent(const conf::Uuid& uuid, uint64_t generation, const std::string& name,
                          const std::string& dataJson);
  void handleMonitorClosed(const conf::Uuid& uuid, uint64_t generation);
  Result<void> saveStatus(const objects::DomainView& v, const Runtime& rt);
  Result<void> initLifecycle();
  Result<void> resolveVolumeDisks(conf::DomainDef& def);
  // domain/snapshot_ops.cpp. Callers hold the domain's job lock.
  Result<std::string> createSnapshot(const conf::Uuid& uuid, const std::string& xml, unsigned flags);
  Result<void> prepareNewSnapshot(const conf::Uuid& uuid, conf::SnapshotDef& def);
  Result<void> recordNewSnapshot(const conf::Uuid& uuid, const std::string& domName, conf::SnapshotDef def,
                                 bool clearRevertDisks);
  Result<std::string> createMemorySnapshot(const conf::Uuid& uuid, conf::SnapshotDef def, unsigned flags);
  Result<std::string> createDiskOnlySnapshot(const conf::Uuid& uuid, conf::SnapshotDef def, unsigned flags);
  Result<void> revertToSnapshot(const conf::Uuid& uuid, const std::string& name, unsigned flags);
  Result<void> deleteSnapshot(const conf::Uuid& uuid, const std::string& name, unsigned flags);
  Result<void> revertStartFromSnapshot(const conf::Uuid& uuid, const conf::SnapshotDef& snap, bool wantPaused);
  Result<void> finishSnapshotStart(const conf::Uuid& uuid, bool wantPaused);
  // domain/snapshot_memory.cpp: QEMU started paused with the state of
  // `memoryFile` loaded (no state change or event recorded yet).
  Result<void> startFromMemoryFile(const conf::Uuid& uuid, const std::string& memoryFile);
  Result<std::vector<std::string>> snapshotNodes(Runtime& rt, const conf::SnapshotDef& snap,
                                                 const conf::DomainDef& dom);
  void loadSnapshots();
  // domain/snapshot_external.cpp: overlays for the external disks of `def`.
  Result<void> createExternalSnapshotDisks(const conf::Uuid& uuid, conf::SnapshotDef& def, unsigned flags);
  // domain/snapshot_external_delete.cpp: merges the snapshot's overlays away
  // and rewrites `tree` (the caller removes the snapshot itself).
  Result<void> deleteExternalSnapshot(const conf::Uuid& uuid, objects::SnapshotTree& tree, const std::string& name,
                                      objects::SnapshotChanges& changes, std::vector<std::string>& toUnlink);
  Result<void> revertExternalSnapshot(const conf::Uuid& uuid, const std::string& name, unsigned flags);
  std::set<std::string> snapshotImageFiles(const objects::SnapshotTree& tree, const objects::DomainView& v);
  Result<void> renameImage(const conf::Uuid& uuid, objects::SnapshotTree& tree, objects::SnapshotChanges& changes,
                           const std::string& from, const std::string& to, const std::string& format);
  std::string unlinkJournalPath(const std::string& domName) const;
  void journalUnlinks(const std::string& domName, const std::vector<std::string>& files);
  void unlinkImages(const std::string& domName, const std::vector<std::string>& files);
  void finishPendingUnlinks(const conf::Uuid& uuid, const std::string& domName);
  // domain/snapshot_external_revert.cpp: a revert's plan, kept on disk
  // until it is done (<snapshotDir>/<dom>/.revert-pending).
  struct RevertJournal {
    std::string snapshot;
    std::vector<std::string> overlays, discard;
    // Online revert: the guest is started from the snapshot's memory state
    // and then runs ("running") or stays paused ("paused"); "" = offline.
    std::string start;
  };
  Result<void> finishExternalRevert(const conf::Uuid& uuid, const RevertJournal& j);
  std::string revertJournalPath(const std::string& domName) const;
  Result<void> writeRevertJournal(const std::string& domName, const RevertJournal& j);
  void rollBackRevert(const conf::Uuid& uuid, const std::string& domName);
  void resumeSnapshotRevert(const conf::Uuid& uuid, const std::string& domName);
  // domain/save_restore.cpp: virsh save / restore / managedsave.
  Result<void> saveDomain(const conf::Uuid& uuid, const std::string& path, const std::optional<std::string>& dxml,
                          unsigned flags);
  Result<objects::DomainView> restoreDomain(const std::string& path, const std::optional<std::string>& dxml,
                                            unsigned flags);
  Result<objects::DomainView> restoreInto(const conf::Uuid& uuid, const std::string& path,
                                          std::shared_ptr<const conf::DomainDef> def, bool wasRunning,
                                          bool startPaused, bool pausedByFlag);
  std::string managedSavePath(const std::string& domName) const;
  bool hasManagedSave(const std::string& domName) const;
  // Start as `virsh start` does: from the managed save image when there is
  // one (removed once restored), unless VIR_DOMAIN_START_FORCE_BOOT.
  Result<objects::DomainView> startOrRestore(const conf::Uuid& uuid, unsigned flags);
  void bindSave(rpc::Program& p);
  void bindStats(rpc::Program& p);
  void bindControl(rpc::Program& p);
  void bindResize(rpc::Program& p);
  void bindMetadata(rpc::Program& p);
  void bindRenameNative(rpc::Program& p);
  // domain/blockjob.cpp: virsh blockcommit / blockpull / blockjob.
  void bindBlockJobs(rpc::Program& p);
  void handleBlockJobEvent(const conf::Uuid& uuid, Runtime& rt, const std::string& name, const std::string& dataJson);
  // The live definition as dumpxml shows it: with each disk's backing chain
  // as QEMU has it open and the <mirror> of a running block job.
  std::shared_ptr<const conf::DomainDef> liveDefWithBlockState(const objects::DomainView& v);
  // Deletes interrupted by a daemon exit are finished at start.
  void resumeSnapshotDeletes();
  // domain/network_ports.cpp: ports of <interface type='network'> from
  // virtnetworkd (fills portid and bridge in the live definition).
  Result<void> allocateNetworkPorts(conf::DomainDef& live);
  void releaseNetworkPorts(const conf::DomainDef& live);
  void reconnectAll();
  void autostartAll();

  daemon::DaemonPaths paths_;
  daemon::EventBus* events_ = nullptr;
  objects::DomainList domains_;
  std::unique_ptr<objects::DomainStore> store_;
  std::string statusDir_;

  std::mutex runtimesMutex_;
  std::map<conf::Uuid, std::shared_ptr<Runtime>> runtimes_;
  std::mutex jobsMutex_;
  std::map<conf::Uuid, std::shared_ptr<std::mutex>> jobs_;
  std::atomic<int> nextId_{1};
  std::mutex portsMutex_;
  std::set<int> vncPortsInUse_;
  int allocateVncPort();
  void releaseVncPorts(const std::vector<int>& ports);
  // One console session per domain (libvirt's rule); weak: the stream owns it.
  std::mutex consolesMutex_;
  std::map<conf::Uuid, std::weak_ptr<rpc::StreamEndpoint>> consoles_;
  std::atomic<uint64_t> nextGeneration_{1};
  // Monitor events and QEMU exits are handled here, in order, off the
  // monitor thread (handlers take job locks and talk QMP).
  std::unique_ptr<WorkQueue> work_;
  // Snapshot trees by domain; their metadata files in <stateDir>/qemu/snapshot.
  std::unique_ptr<objects::SnapshotStore> snapStore_;
  mutable std::mutex snapMutex_;
  std::map<conf::Uuid, objects::SnapshotTree> snapTrees_;
};

}  // namespace splitvirt::qemu
