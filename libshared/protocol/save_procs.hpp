// Save, restore and managed save (remote_protocol.x: remote_domain_save*,
// remote_domain_restore*, remote_domain_managed_save*).
#pragma once

#include "protocol/domain_procs.hpp"

namespace splitvirt::protocol {

struct DomainSaveArgs { NonnullDomain dom; std::string to; };
BOOST_DESCRIBE_STRUCT(DomainSaveArgs, (), (dom, to))
struct DomainSaveFlagsArgs { NonnullDomain dom; std::string to; OptString dxml; uint32_t flags = 0; };
BOOST_DESCRIBE_STRUCT(DomainSaveFlagsArgs, (), (dom, to, dxml, flags))
struct DomainRestoreArgs { std::string from; };
BOOST_DESCRIBE_STRUCT(DomainRestoreArgs, (), (from))
struct DomainRestoreFlagsArgs { std::string from; OptString dxml; uint32_t flags = 0; };
BOOST_DESCRIBE_STRUCT(DomainRestoreFlagsArgs, (), (from, dxml, flags))
struct SaveImageFileArgs { std::string file; uint32_t flags = 0; };
BOOST_DESCRIBE_STRUCT(SaveImageFileArgs, (), (file, flags))
struct SaveImageDefineArgs { std::string file; std::string dxml; uint32_t flags = 0; };
BOOST_DESCRIBE_STRUCT(SaveImageDefineArgs, (), (file, dxml, flags))
struct ManagedSaveDefineArgs { NonnullDomain dom; OptString dxml; uint32_t flags = 0; };
BOOST_DESCRIBE_STRUCT(ManagedSaveDefineArgs, (), (dom, dxml, flags))

inline constexpr Proc<DomainRestoreArgs, Void> kDomainRestore{54, true};
inline constexpr Proc<DomainSaveArgs, Void> kDomainSave{55, true};
inline constexpr Proc<DomFlagsArg, Void> kDomainManagedSave{182, true};
inline constexpr Proc<DomFlagsArg, Void> kDomainManagedSaveRemove{184, true};
inline constexpr Proc<DomainSaveFlagsArgs, Void> kDomainSaveFlags{232, true};
inline constexpr Proc<DomainRestoreFlagsArgs, Void> kDomainRestoreFlags{233, true};
inline constexpr Proc<SaveImageFileArgs, StringRet> kDomainSaveImageGetXmlDesc{235, true};
inline constexpr Proc<SaveImageDefineArgs, Void> kDomainSaveImageDefineXml{236, true};
inline constexpr Proc<DomFlagsArg, StringRet> kDomainManagedSaveGetXmlDesc{388, true};
inline constexpr Proc<ManagedSaveDefineArgs, Void> kDomainManagedSaveDefineXml{389, true};

}  // namespace splitvirt::protocol
