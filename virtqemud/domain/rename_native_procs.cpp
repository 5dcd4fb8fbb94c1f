// Two procedures on definitions rather than guests: virsh domrename (a
// shut-off guest takes a new name: config file, autostart link and snapshot
// metadata move with it) and domxml-to-native (the QEMU command line a
// definition would start, without starting anything).
#include "domain/domain_common.hpp"
#include "process/command_builder.hpp"
#include "protocol/domain_misc_procs.hpp"
#include "qemu_driver.hpp"
#include "util/fs.hpp"

#include <cstdio>

namespace splitvirt::qemu {

using namespace protocol;
using objects::DomainView;
using rpc::ConnContext;

void QemuDriver::bindRenameNative(rpc::Program& p) {
  p.bind(kConnectDomainXmlToNative, [this](ConnContext&, XmlToNativeArgs&& a) -> Result<StringRet> {
    if (a.flags) return Error::unsupportedFlags(kErr, a.flags, "qemuConnectDomainXMLToNative");
    if (a.nativeFormat != "qemu-argv")
      return Error::invalidArg(kErr, "unsupported config type " + a.nativeFormat);
    auto parsed = conf::parseDomainDef(a.domainXml, 0, ErrorDomain::Domain);
    if (!parsed) return parsed.error();
    conf::DomainDef def = std::move(*parsed);
    // As libvirt: no taps can be made for an export, so every NIC becomes a
    // generic 'ethernet' one with its model and MAC.
    CommandOptions opts;
    int fd = 24;
    for (auto& net : def.nets) {
      conf::NetDef eth;
      eth.type = conf::NetType::Ethernet;
      eth.mac = net.mac;
      eth.model = net.model;
      eth.info = net.info;
      net = eth;
      opts.tapFds.push_back(fd++);
    }
    const std::string dir = paths_.stateDir + "/qemu/domain--1-" + def.name;
    opts.emulator = def.emulator.value_or(kDefaultEmulator);
    opts.monitorSocketPath = dir + "/monitor.sock";
    opts.domainDir = dir;
    opts.kvmAvailable = ::access("/dev/kvm", R_OK | W_OK) == 0;
    SV_TRY_VOID(resolveVolumeDisks(def));
    auto argv = buildCommandLine(def, opts);
    if (!argv) return argv.error();
    // virCommandToString without line breaks.
    std::string text = formatCommandLine(*argv);
    for (size_t at; (at = text.find(" \\\n")) != std::string::npos;) text.replace(at, 3, " ");
    return StringRet{text};
  });

  p.bind(kDomainRename, [this](ConnContext&, RenameArgs&& a) -> Result<RenameRet> {
    if (a.flags) return Error::unsupportedFlags(kErr, a.flags, "qemuDomainRename");
    if (!a.new_name) return Error::invalidArg(ErrorDomain::Domain, "new_name in virDomainRename must not be NULL");
    const std::string newName = *a.new_name;
    if (!domains_.findByUuid(a.dom.uuid)) return noDomainByHandle(a.dom);
    auto lock = jobLock(a.dom.uuid);
    std::lock_guard jl(*lock);
    auto v = fromHandle(domains_, a.dom);
    if (!v) return v.error();
    const std::string oldName = v->def->name;
    if (v->active()) return Error::operationInvalid(kErr, "cannot rename active domain");
    if (!v->persistent) return Error::operationInvalid(kErr, "cannot rename a transient domain");
    if (hasManagedSave(oldName))
      return Error::operationInvalid(kErr, "domain with a managed saved state can't be renamed");
    if (newName.find('/') != std::string::npos)
      return Error::make(static_cast<ErrorCode>(27) /* VIR_ERR_XML_ERROR */, kErr, "XML error: %s", "XML error",
                         "name " + newName + " cannot contain '/'");
    if (newName == oldName) return Error::operationInvalid(ErrorDomain::Domain, "Can't rename domain to itself");
    if (domains_.findByName(newName))
      return Error::operationInvalid(ErrorDomain::Domain, "domain with name '" + newName + "' already exists");

    auto def = std::make_shared<conf::DomainDef>(*v->def);
    def->name = newName;
    // New file first, then the old one goes: a crash in between leaves two
    // definitions with one uuid, and the next start keeps the newer name.
    auto saved = store_->save(*def);
    if (!saved) return saved.error();
    SV_TRY_VOID(store_->waitDurable(*saved));
    if (v->autostart) {
      if (auto t = store_->setAutostart(newName, true)) (void)store_->waitDurable(*t);
      (void)store_->setAutostart(oldName, false);
    }
    {
      std::lock_guard slk(snapMutex_);
      const std::string from = snapStore_->domainDir(oldName), to = snapStore_->domainDir(newName);
      if (fs::exists(from) && std::rename(from.c_str(), to.c_str()) != 0)
        return Error::systemError(kErr, errno, "cannot move snapshot metadata to '" + to + "'");
    }
    auto removed = store_->remove(oldName);
    if (!removed) return removed.error();
    (void)store_->waitDurable(*removed);
    DomainView nv = *v;
    nv.def = def;
    nv.newDef = nullptr;
    domains_.put(nv);
    protocol::NonnullDomain oldHandle{oldName, def->uuid, -1};
    events_->domainLifecycle(oldHandle, kEvUndefined, 1 /* RENAMED */);
    events_->domainLifecycle(handleOf(nv), kEvDefined, 2 /* RENAMED */);
    return RenameRet{0};
  });
}

}  // namespace splitvirt::qemu
