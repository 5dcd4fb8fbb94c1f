// Save, restore and managed save procedures (the work is in save_restore.cpp).
#include "domain/domain_common.hpp"
#include "protocol/save_procs.hpp"
#include "qemu_driver.hpp"
#include "snapshot/save_image.hpp"
#include "util/fs.hpp"

#include <unistd.h>

namespace splitvirt::qemu {

using namespace protocol;
using objects::DomainView;
using rpc::ConnContext;

namespace {
// VIR_DOMAIN_SAVE_BYPASS_CACHE | RUNNING | PAUSED (| RESET_NVRAM for restore)
constexpr uint32_t kSaveFlags = 1u | 2u | 4u, kRestoreFlags = kSaveFlags | 8u;
constexpr uint32_t kXmlSecure = 1u;  // VIR_DOMAIN_SAVE_IMAGE_XML_SECURE

Result<std::string> imageXml(const std::string& file, uint32_t flags) {
  auto img = openSaveImage(file);
  if (!img) return img.error();
  ::close(img->fd);
  auto def = conf::parseDomainDef(img->domainXml, 0, ErrorDomain::Domain);
  if (!def) return def.error();
  return conf::formatDomainDef(*def, conf::kFormatInactive | ((flags & kXmlSecure) ? conf::kFormatSecure : 0));
}
}  // namespace

void QemuDriver::bindSave(rpc::Program& p) {
  auto save = [this](const NonnullDomain& dom, const std::string& to, const OptString& dxml, uint32_t flags,
                     const char* fn) -> Result<Void> {
    if (flags & ~kSaveFlags) return Error::unsupportedFlags(kErr, flags & ~kSaveFlags, fn);
    if (!domains_.findByUuid(dom.uuid)) return noDomainByHandle(dom);
    auto lock = jobLock(dom.uuid);
    std::lock_guard jl(*lock);
    std::optional<std::string> alt;
    if (dxml) alt = *dxml;
    if (auto r = saveDomain(dom.uuid, to, alt, flags); !r) return r.error();
    return Void{};
  };
  p.bind(kDomainSave, [save](ConnContext&, DomainSaveArgs&& a) { return save(a.dom, a.to, std::nullopt, 0, "qemuDomainSave"); });
  p.bind(kDomainSaveFlags, [save](ConnContext&, DomainSaveFlagsArgs&& a) {
    return save(a.dom, a.to, a.dxml, a.flags, "qemuDomainSaveFlags");
  });

  auto restore = [this](const std::string& from, const OptString& dxml, uint32_t flags) -> Result<Void> {
    if (flags & ~kRestoreFlags) return Error::unsupportedFlags(kErr, flags & ~kRestoreFlags, "qemuDomainRestoreInternal");
    std::optional<std::string> alt;
    if (dxml) alt = *dxml;
    if (auto r = restoreDomain(from, alt, flags); !r) return r.error();
    return Void{};
  };
  p.bind(kDomainRestore, [restore](ConnContext&, DomainRestoreArgs&& a) { return restore(a.from, std::nullopt, 0); });
  p.bind(kDomainRestoreFlags, [restore](ConnContext&, DomainRestoreFlagsArgs&& a) {
    return restore(a.from, a.dxml, a.flags);
  });

  p.bind(kDomainManagedSave, [this](ConnContext&, DomFlagsArg&& a) -> Result<Void> {
    if (a.flags & ~kSaveFlags) return Error::unsupportedFlags(kErr, a.flags & ~kSaveFlags, "qemuDomainManagedSave");
    auto v = fromHandle(domains_, a.dom);
    if (!v) return v.error();
    auto lock = jobLock(a.dom.uuid);
    std::lock_guard jl(*lock);
    v = fromHandle(domains_, a.dom);
    if (!v) return v.error();
    if (!v->active()) return Error::operationInvalid(ErrorDomain::Domain, "domain is not running");
    if (!v->persistent) return Error::operationInvalid(kErr, "cannot do managed save for transient domain");
    const std::string path = managedSavePath(v->def->name);
    SV_TRY_VOID(fs::makeDirs(paths_.stateDir + "/qemu/save", 0755, kErr));
    ::unlink(path.c_str());  // a stale image of an earlier run is replaced
    if (auto r = saveDomain(a.dom.uuid, path, std::nullopt, a.flags); !r) return r.error();
    return Void{};
  });

  p.bind(kDomainHasManagedSaveImage, [this](ConnContext&, DomFlagsArg&& a) -> Result<IntRet> {
    if (a.flags) return Error::unsupportedFlags(kErr, a.flags, "qemuDomainHasManagedSaveImage");
    auto v = fromHandle(domains_, a.dom);
    if (!v) return v.error();
    return IntRet{hasManagedSave(v->def->name) ? 1 : 0};
  });

  p.bind(kDomainManagedSaveRemove, [this](ConnContext&, DomFlagsArg&& a) -> Result<Void> {
    if (a.flags) return Error::unsupportedFlags(kErr, a.flags, "qemuDomainManagedSaveRemove");
    auto v = fromHandle(domains_, a.dom);
    if (!v) return v.error();
    auto lock = jobLock(a.dom.uuid);
    std::lock_guard jl(*lock);
    const std::string path = managedSavePath(v->def->name);
    if (::unlink(path.c_str()) != 0)
      return Error::systemError(kErr, errno, "Failed to remove managed save file '" + path + "'");
    return Void{};
  });

  p.bind(kDomainSaveImageGetXmlDesc, [](ConnContext& ctx, SaveImageFileArgs&& a) -> Result<StringRet> {
    if (a.flags & ~kXmlSecure) return Error::unsupportedFlags(kErr, a.flags & ~kXmlSecure, "qemuDomainSaveImageGetXMLDesc");
    if ((a.flags & kXmlSecure) && ctx.readonly)
      return Error::operationDenied(ErrorDomain::Domain, "virDomainSaveImageGetXMLDesc with secure flag");
    auto xml = imageXml(a.file, a.flags);
    if (!xml) return xml.error();
    return StringRet{*xml};
  });

  // save-image-define / managedsave-define (what *-edit end with).
  auto defineImage = [](const std::string& file, const std::string& xml, uint32_t flags,
                        const char* fn) -> Result<Void> {
    if (flags & ~(2u | 4u)) return Error::unsupportedFlags(kErr, flags & ~(2u | 4u), fn);
    auto img = openSaveImage(file);
    if (!img) return img.error();
    ::close(img->fd);
    std::optional<bool> running;
    if (flags & 2u) running = true;
    else if (flags & 4u) running = false;
    if (xml == img->domainXml && (!running || *running == img->wasRunning)) return Void{};
    auto cur = conf::parseDomainDef(img->domainXml, 0, ErrorDomain::Domain);
    if (!cur) return cur.error();
    auto next = conf::parseDomainDef(xml, 0, ErrorDomain::Domain);
    if (!next) return next.error();
    SV_TRY_VOID(checkSameGuest(*cur, *next));
    auto r = rewriteSaveImage(file, conf::formatDomainDef(*next, conf::kFormatInactive | conf::kFormatSecure), running);
    if (!r) return r.error();
    return Void{};
  };
  p.bind(kDomainSaveImageDefineXml, [defineImage](ConnContext&, SaveImageDefineArgs&& a) {
    return defineImage(a.file, a.dxml, a.flags, "qemuDomainSaveImageDefineXML");
  });
  p.bind(kDomainManagedSaveDefineXml, [this, defineImage](ConnContext&, ManagedSaveDefineArgs&& a) -> Result<Void> {
    auto v = fromHandle(domains_, a.dom);
    if (!v) return v.error();
    const std::string path = managedSavePath(v->def->name);
    if (!fs::exists(path)) return Error::operationInvalid(kErr, "domain does not have managed save image");
    auto lock = jobLock(a.dom.uuid);
    std::lock_guard jl(*lock);
    // No XML: only the running/paused flag changes.
    std::string xml;
    if (a.dxml) {
      xml = *a.dxml;
    } else {
      auto img = openSaveImage(path);
      if (!img) return img.error();
      ::close(img->fd);
      xml = img->domainXml;
    }
    return defineImage(path, xml, a.flags, "qemuDomainManagedSaveDefineXML");
  });

  p.bind(kDomainManagedSaveGetXmlDesc, [this](ConnContext& ctx, DomFlagsArg&& a) -> Result<StringRet> {
    if (a.flags & ~kXmlSecure) return Error::unsupportedFlags(kErr, a.flags & ~kXmlSecure, "qemuDomainManagedSaveGetXMLDesc");
    if ((a.flags & kXmlSecure) && ctx.readonly)
      return Error::operationDenied(ErrorDomain::Domain, "virDomainManagedSaveGetXMLDesc with secure flag");
    auto v = fromHandle(domains_, a.dom);
    if (!v) return v.error();
    const std::string path = managedSavePath(v->def->name);
    if (!fs::exists(path))
      return Error::operationInvalid(kErr, "domain does not have managed save image");
    auto xml = imageXml(path, a.flags);
    if (!xml) return xml.error();
    return StringRet{*xml};
  });
}

}  // namespace splitvirt::qemu
