// <metadata> elements of a domain by namespace, as virDomainSetMetadata /
// virDomainGetMetadata (type ELEMENT) handle them: an application's element
// lives in its own namespace URI, with the key as the prefix.
#pragma once

#include "util/error.hpp"

#include <optional>
#include <string>

namespace splitvirt::conf {

// The element of namespace `uri` in `metadataXml` (a whole <metadata>
// element as DomainDef keeps it), without its namespace, as libvirt returns
// it; nullopt when there is none.
Result<std::optional<std::string>> metadataElement(const std::optional<std::string>& metadataXml,
                                                   const std::string& uri);

// `metadataXml` with the element of namespace `uri` replaced by `elementXml`
// (put in that namespace with prefix `key`), or removed when `elementXml` is
// nullopt. nullopt: no <metadata> left.
Result<std::optional<std::string>> setMetadataElement(const std::optional<std::string>& metadataXml,
                                                      const std::string& uri, const std::string& key,
                                                      const std::optional<std::string>& elementXml);

}  // namespace splitvirt::conf
