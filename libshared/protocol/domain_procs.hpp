// Domain procedures (protocol.md 4.3 "Domain").
#pragma once

#include "protocol/connect_procs.hpp"

namespace splitvirt::protocol {

struct DomArg { NonnullDomain dom; };
BOOST_DESCRIBE_STRUCT(DomArg, (), (dom))
struct DomFlagsArg { NonnullDomain dom; uint32_t flags = 0; };
BOOST_DESCRIBE_STRUCT(DomFlagsArg, (), (dom, flags))
struct DomIntArg { NonnullDomain dom; int32_t value = 0; };
BOOST_DESCRIBE_STRUCT(DomIntArg, (), (dom, value))
struct DomRet { NonnullDomain dom; };
BOOST_DESCRIBE_STRUCT(DomRet, (), (dom))
struct XmlArg { std::string xml; };
BOOST_DESCRIBE_STRUCT(XmlArg, (), (xml))
struct XmlFlagsArg { std::string xml; uint32_t flags = 0; };
BOOST_DESCRIBE_STRUCT(XmlFlagsArg, (), (xml, flags))
struct NameArg { std::string name; };
BOOST_DESCRIBE_STRUCT(NameArg, (), (name))
struct UuidArg { Uuid uuid{}; };
BOOST_DESCRIBE_STRUCT(UuidArg, (), (uuid))

struct DomainGetInfoRet {
  uint32_t state = 0;  // unsigned char: 4 bytes on the wire
  uint64_t maxMem = 0;
  uint64_t memory = 0;
  uint32_t nrVirtCpu = 0;  // unsigned short: 4 bytes on the wire
  uint64_t cpuTime = 0;
};
BOOST_DESCRIBE_STRUCT(DomainGetInfoRet, (), (state, maxMem, memory, nrVirtCpu, cpuTime))

struct DomainGetStateRet { int32_t state = 0; int32_t reason = 0; };
BOOST_DESCRIBE_STRUCT(DomainGetStateRet, (), (state, reason))

struct DomainGetMessagesRet { Array<std::string, kDomainMessagesMax> msgs; };
BOOST_DESCRIBE_STRUCT(DomainGetMessagesRet, (), (msgs))

struct DomainGetSecurityLabelRet { xdr::CharArray<kSecurityLabelMax> label; int32_t enforcing = 0; };
BOOST_DESCRIBE_STRUCT(DomainGetSecurityLabelRet, (), (label, enforcing))

inline constexpr Proc<XmlArg, DomRet> kDomainDefineXml{11, /*blocking=*/true};
inline constexpr Proc<DomFlagsArg, StringRet> kDomainGetXmlDesc{14};
inline constexpr Proc<DomArg, IntRet> kDomainGetAutostart{15};
inline constexpr Proc<DomArg, DomainGetInfoRet> kDomainGetInfo{16};
inline constexpr Proc<DomArg, UHyperRet> kDomainGetMaxMemory{17};
inline constexpr Proc<DomArg, IntRet> kDomainGetMaxVcpus{18};
inline constexpr Proc<DomArg, StringRet> kDomainGetOsType{19};
inline constexpr Proc<IntArg, DomRet> kDomainLookupById{22};
inline constexpr Proc<NameArg, DomRet> kDomainLookupByName{23};
inline constexpr Proc<UuidArg, DomRet> kDomainLookupByUuid{24};
inline constexpr Proc<DomIntArg, Void> kDomainSetAutostart{29, /*blocking=*/true};
inline constexpr Proc<DomArg, Void> kDomainUndefine{35, true};
inline constexpr Proc<DomArg, IntRet> kDomainIsActive{150};
inline constexpr Proc<DomArg, IntRet> kDomainIsPersistent{151};
inline constexpr Proc<DomArg, DomainGetSecurityLabelRet> kDomainGetSecurityLabel{121};

struct DomainOpenConsoleArgs { NonnullDomain dom; OptString dev_name; uint32_t flags = 0; };
BOOST_DESCRIBE_STRUCT(DomainOpenConsoleArgs, (), (dom, dev_name, flags))
// Opens a stream; blocking because it asks QEMU where the pty is.
inline constexpr Proc<DomainOpenConsoleArgs, Void> kDomainOpenConsole{201, true};

struct DomXmlArg { NonnullDomain dom; std::string xml; };
BOOST_DESCRIBE_STRUCT(DomXmlArg, (), (dom, xml))
struct DomXmlFlagsArg { NonnullDomain dom; std::string xml; uint32_t flags = 0; };
BOOST_DESCRIBE_STRUCT(DomXmlFlagsArg, (), (dom, xml, flags))
inline constexpr Proc<DomXmlArg, Void> kDomainAttachDevice{8, true};
inline constexpr Proc<DomXmlArg, Void> kDomainDetachDevice{13, true};
inline constexpr Proc<DomXmlFlagsArg, Void> kDomainAttachDeviceFlags{160, true};
inline constexpr Proc<DomXmlFlagsArg, Void> kDomainDetachDeviceFlags{161, true};

// Lifecycle: all blocking (they spawn, signal and wait for QEMU).
inline constexpr Proc<DomArg, Void> kDomainCreate{9, true};
inline constexpr Proc<XmlFlagsArg, DomRet> kDomainCreateXml{10, true};
inline constexpr Proc<DomArg, Void> kDomainDestroy{12, true};
inline constexpr Proc<DomFlagsArg, Void> kDomainReboot{27, true};
inline constexpr Proc<DomArg, Void> kDomainResume{28, true};
inline constexpr Proc<DomArg, Void> kDomainShutdown{33, true};
inline constexpr Proc<DomArg, Void> kDomainSuspend{34, true};
inline constexpr Proc<DomFlagsArg, DomRet> kDomainCreateWithFlags{196, true};
inline constexpr Proc<DomFlagsArg, Void> kDomainDestroyFlags{234, true};
inline constexpr Proc<DomFlagsArg, Void> kDomainReset{245, true};
inline constexpr Proc<DomFlagsArg, Void> kDomainShutdownFlags{258, true};
inline constexpr Proc<DomFlagsArg, IntRet> kDomainHasManagedSaveImage{183};
inline constexpr Proc<DomFlagsArg, IntRet> kDomainSnapshotNum{187};
inline constexpr Proc<DomFlagsArg, IntRet> kDomainGetVcpusFlags{200};
inline constexpr Proc<DomArg, IntRet> kDomainIsUpdated{202};
inline constexpr Proc<DomFlagsArg, DomainGetStateRet> kDomainGetState{212};
inline constexpr Proc<DomFlagsArg, Void> kDomainUndefineFlags{231, true};
inline constexpr Proc<XmlFlagsArg, DomRet> kDomainDefineXmlFlags{350, true};
inline constexpr Proc<DomFlagsArg, DomainGetMessagesRet> kDomainGetMessages{426};

}  // namespace splitvirt::protocol
