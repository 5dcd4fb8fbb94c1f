// Domain metadata: title, description and applications' own <metadata>
// elements (virsh desc / metadata), live and persistent.
#include "conf/domain_metadata.hpp"
#include "domain/domain_common.hpp"
#include "domain/runtime.hpp"
#include "protocol/domain_misc_procs.hpp"
#include "qemu_driver.hpp"

namespace splitvirt::qemu {

using namespace protocol;
using objects::DomainView;
using rpc::ConnContext;

namespace {

constexpr int kMetaDescription = 0, kMetaTitle = 1, kMetaElement = 2;

Result<void> applyMetadata(conf::DomainDef& def, int type, const OptString& metadata, const OptString& key,
                           const OptString& uri) {
  auto text = [&]() -> std::optional<std::string> {
    if (!metadata || metadata->empty()) return std::nullopt;
    return *metadata;
  };
  switch (type) {
    case kMetaDescription: def.description = text(); return {};
    case kMetaTitle: def.title = text(); return {};
    default: {
      std::optional<std::string> element;
      if (metadata) element = *metadata;
      auto md = conf::setMetadataElement(def.metadataXml, *uri, key.value_or(""), element);
      if (!md) return md.error();
      def.metadataXml = *md;
      return {};
    }
  }
}

}  // namespace

void QemuDriver::bindMetadata(rpc::Program& p) {
  p.bind(kDomainSetMetadata, [this](ConnContext&, SetMetadataArgs&& a) -> Result<Void> {
    // What virDomainSetMetadata itself checks.
    if (a.type == kMetaTitle && a.metadata && a.metadata->find('\n') != std::string::npos)
      return Error::invalidArg(ErrorDomain::Domain, "metadata title can't contain newlines");
    if (a.type == kMetaTitle || a.type == kMetaDescription) {
      if (a.uri) return Error::invalidArg(ErrorDomain::Domain, "uri in virDomainSetMetadata must be NULL");
      if (a.key) return Error::invalidArg(ErrorDomain::Domain, "key in virDomainSetMetadata must be NULL");
    } else if (a.type == kMetaElement) {
      if (!a.uri) return Error::invalidArg(ErrorDomain::Domain, "uri in virDomainSetMetadata must not be NULL");
      if (a.metadata && !a.key)
        return Error::invalidArg(ErrorDomain::Domain, "key in virDomainSetMetadata must not be NULL");
    }
    if (a.flags & ~3u) return Error::unsupportedFlags(kErr, a.flags & ~3u, "qemuDomainSetMetadata");
    if (a.type < 0 || a.type > kMetaElement)
      return Error::invalidArg(ErrorDomain::Domain, "unknown metadata type '" + std::to_string(a.type) + "'");
    if (!domains_.findByUuid(a.dom.uuid)) return noDomainByHandle(a.dom);
    auto lock = jobLock(a.dom.uuid);
    std::lock_guard jl(*lock);
    auto v = fromHandle(domains_, a.dom);
    if (!v) return v.error();
    auto which = affectedDefs(*v, a.flags);
    if (!which) return which.error();
    auto [live, config] = *which;
    if (live) {
      auto def = std::make_shared<conf::DomainDef>(*v->def);
      SV_TRY_VOID(applyMetadata(*def, a.type, a.metadata, a.key, a.uri));
      auto nv = domains_.update(a.dom.uuid, [&](DomainView& d) { d.def = def; });
      if (auto rt = runtime(a.dom.uuid); nv && rt) (void)saveStatus(*nv, *rt);
    }
    if (config) {
      auto def = std::make_shared<conf::DomainDef>(*v->persistentDef());
      SV_TRY_VOID(applyMetadata(*def, a.type, a.metadata, a.key, a.uri));
      SV_TRY_VOID(savePersistentDef(a.dom.uuid, def));
    }
    events_->domainMetadataChange(handleOf(*domains_.findByUuid(a.dom.uuid)), a.type,
                                  a.type == kMetaElement ? a.uri : std::nullopt);
    return Void{};
  });

  p.bind(kDomainGetMetadata, [this](ConnContext&, GetMetadataArgs&& a) -> Result<StringRet> {
    if (a.type == kMetaElement && !a.uri)
      return Error::invalidArg(ErrorDomain::Domain, "uri in virDomainGetMetadata must not be NULL");
    if ((a.type == kMetaTitle || a.type == kMetaDescription) && a.uri)
      return Error::invalidArg(ErrorDomain::Domain, "uri in virDomainGetMetadata must be NULL");
    if (a.flags & ~3u)
      return Error::unsupportedFlags(ErrorDomain::Domain, a.flags & ~3u, "virDomainObjGetMetadata");
    if (a.type < 0 || a.type > kMetaElement)
      return Error::invalidArg(ErrorDomain::Domain, "unknown metadata type '" + std::to_string(a.type) + "'");
    auto v = fromHandle(domains_, a.dom);
    if (!v) return v.error();
    if ((a.flags & 3u) == 3u)
      return Error::invalidArg(ErrorDomain::Domain, "Flags 'VIR_DOMAIN_AFFECT_LIVE' and 'VIR_DOMAIN_AFFECT_CONFIG' "
                                                    "are mutually exclusive");
    if ((a.flags & 1u) && !v->active()) return Error::operationInvalid(ErrorDomain::Domain, "domain is not running");
    if ((a.flags & 2u) && !v->persistent)
      return Error::operationInvalid(ErrorDomain::Domain, "transient domains do not have any persistent config");
    const conf::DomainDef& def = (a.flags & 2u) ? *v->persistentDef() : *v->def;
    std::optional<std::string> out;
    if (a.type == kMetaDescription) out = def.description;
    if (a.type == kMetaTitle) out = def.title;
    if (a.type == kMetaElement) {
      auto el = conf::metadataElement(def.metadataXml, *a.uri);
      if (!el) return el.error();
      out = *el;
    }
    if (!out)
      return Error::make(static_cast<ErrorCode>(80) /* VIR_ERR_NO_DOMAIN_METADATA */, ErrorDomain::Domain,
                         "metadata not found: %s", "metadata not found", "Requested metadata element is not present");
    return StringRet{*out};
  });
}

}  // namespace splitvirt::qemu
