// Internals shared by the network_def_*.cpp files: the element parsers that
// both the whole-network parse and net-update's bare-element parse use, and
// the error helpers (network_conf.c reports in VIR_FROM_NETWORK).
#pragma once

#include "conf/network_def.hpp"
#include "conf/xml.hpp"

namespace splitvirt::conf::netdef_detail {

inline Error xmlErr(std::string msg) { return Error::xmlError(ErrorDomain::Network, std::move(msg)); }
inline Error detailErr(std::string msg) { return Error::xmlDetail(ErrorDomain::Network, std::move(msg)); }
inline Error unsupportedErr(std::string msg) { return Error::configUnsupported(ErrorDomain::Network, std::move(msg)); }
inline Error internalErr(std::string msg) { return Error::internal(ErrorDomain::Network, std::move(msg)); }

// "'name'" as network_conf.c quotes network names in most messages.
inline std::string q(std::string_view s) { return "'" + std::string(s) + "'"; }

// virNetworkDHCPRangeDefParseXML, virNetworkDHCPHostDefParseXML,
// virNetworkDNSHostDefParseXML, virNetworkDNSSrvDefParseXML,
// virNetworkDNSTxtDefParseXML.
Result<DhcpRange> parseDhcpRange(XmlNode node, const NetIpDef& ip, std::string_view net);
Result<DhcpHost> parseDhcpHost(XmlNode node, const NetIpDef& ip, std::string_view net, bool partialOkay);
Result<DnsHost> parseDnsHost(XmlNode node, std::string_view net, bool partialOkay);
Result<DnsSrv> parseDnsSrv(XmlNode node, std::string_view net, bool partialOkay);
Result<DnsTxt> parseDnsTxt(XmlNode node, std::string_view net, bool partialOkay);

// virNetworkDefUpdateCheckElementName: net-update's document must be the
// element the section names.
Result<void> checkUpdateElement(XmlNode node, std::string_view element, std::string_view net);

}  // namespace splitvirt::conf::netdef_detail
