#include "conf/domain_metadata.hpp"

#include "conf/xml.hpp"

#include <libxml/tree.h>

namespace splitvirt::conf {

namespace {

constexpr ErrorDomain kDom = ErrorDomain::Domain;

xmlNodePtr childByNs(xmlNodePtr parent, const std::string& uri) {
  for (xmlNodePtr c = parent ? parent->children : nullptr; c; c = c->next)
    if (c->type == XML_ELEMENT_NODE && c->ns && c->ns->href &&
        uri == reinterpret_cast<const char*>(c->ns->href))
      return c;
  return nullptr;
}

// Every element of the subtree that is in no namespace or in `uri` moves to `ns`.
void setNs(xmlNodePtr n, xmlNsPtr ns, const std::string& uri) {
  for (; n; n = n->next) {
    if (n->type != XML_ELEMENT_NODE) continue;
    if (!n->ns || (n->ns->href && uri == reinterpret_cast<const char*>(n->ns->href))) xmlSetNs(n, ns);
    setNs(n->children, ns, uri);
  }
}

// virXMLRemoveElementNamespace: the subtree's elements of `uri` lose it.
void dropNs(xmlNodePtr n, const std::string& uri) {
  for (; n; n = n->next) {
    if (n->type != XML_ELEMENT_NODE) continue;
    if (n->ns && n->ns->href && uri == reinterpret_cast<const char*>(n->ns->href)) xmlSetNs(n, nullptr);
    dropNs(n->children, uri);
  }
}

}  // namespace

Result<std::optional<std::string>> metadataElement(const std::optional<std::string>& metadataXml,
                                                   const std::string& uri) {
  if (!metadataXml) return std::optional<std::string>{};
  auto doc = XmlDoc::parse(*metadataXml, "(metadata)", "metadata", kDom);
  if (!doc) return doc.error();
  xmlNodePtr node = childByNs(doc->root().raw(), uri);
  if (!node) return std::optional<std::string>{};
  xmlNodePtr copy = xmlDocCopyNode(node, doc->raw(), 1);
  if (!copy) return Error::internal(kDom, "Failed to copy XML node");
  dropNs(copy, uri);
  // Its declaration of `uri` goes too.
  for (xmlNsPtr* p = &copy->nsDef; *p; p = &(*p)->next)
    if ((*p)->href && uri == reinterpret_cast<const char*>((*p)->href)) {
      xmlNsPtr gone = *p;
      *p = gone->next;
      gone->next = nullptr;
      xmlFreeNs(gone);
      break;
    }
  std::string out = XmlNode(copy).dumpFormatted(0);
  xmlFreeNode(copy);
  return std::optional<std::string>(std::move(out));
}

Result<std::optional<std::string>> setMetadataElement(const std::optional<std::string>& metadataXml,
                                                      const std::string& uri, const std::string& key,
                                                      const std::optional<std::string>& elementXml) {
  auto doc = XmlDoc::parse(metadataXml.value_or("<metadata/>"), "(metadata)", "metadata", kDom);
  if (!doc) return doc.error();
  xmlNodePtr root = doc->root().raw();
  while (xmlNodePtr old = childByNs(root, uri)) {
    xmlUnlinkNode(old);
    xmlFreeNode(old);
  }
  if (elementXml) {
    auto user = XmlDoc::parse(*elementXml, "(metadata_xml)", "", kDom);
    if (!user) return user.error();
    xmlNodePtr copy = xmlDocCopyNode(user->root().raw(), doc->raw(), 1);
    if (!copy) return Error::internal(kDom, "Failed to copy XML node");
    xmlNsPtr ns = xmlNewNs(copy, reinterpret_cast<const xmlChar*>(uri.c_str()),
                           reinterpret_cast<const xmlChar*>(key.c_str()));
    if (!ns) {
      xmlFreeNode(copy);
      return Error::internal(kDom, "Failed to set a namespace");
    }
    setNs(copy, ns, uri);
    if (!xmlAddChild(root, copy)) {
      xmlFreeNode(copy);
      return Error::internal(kDom, "failed to add metadata to XML document");
    }
  }
  bool empty = true;
  for (xmlNodePtr c = root->children; c; c = c->next) empty = empty && c->type != XML_ELEMENT_NODE;
  if (empty) return std::optional<std::string>{};
  return std::optional<std::string>(doc->root().dumpFormatted(1, true));
}

}  // namespace splitvirt::conf
