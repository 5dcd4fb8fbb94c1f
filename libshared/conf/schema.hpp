// RelaxNG validation against libvirt's schemas (virXMLValidateAgainstSchema).
#pragma once

#include "util/error.hpp"

#include <string>
#include <string_view>

namespace splitvirt::conf {

class XmlDoc;

inline constexpr std::string_view kDomainSchemaPath = "/usr/share/libvirt/schemas/domain.rng";

// Validates `xml` against the RNG at `rngPath` (parsed once, then cached per
// path). Failure: VIR_ERR_XML_INVALID_SCHEMA in VIR_FROM_XML with libvirt's
// text, "Unable to validate doc against <rng>\n<libxml2 messages>".
// A document that is not well-formed fails with the parser's error in
// `errDomain`, as in libvirt where parsing comes first.
Result<void> validateAgainstSchema(std::string_view xml, std::string_view rngPath, ErrorDomain errDomain);

// The same for an already parsed document.
Result<void> validateDocAgainstSchema(const XmlDoc& doc, std::string_view rngPath);

}  // namespace splitvirt::conf
