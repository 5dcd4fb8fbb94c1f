// RAII wrappers over libxml2 plus the small helpers the conf/ parsers share.
// libxml2 headers stay in xml.cpp; here its node and document types are only
// forward-declared.
//
// Error texts and error domains follow libvirt 9.0 exactly (virxml.c), since
// virsh users see them verbatim:
//   * not-well-formed input: VIR_ERR_XML_DETAIL in the caller's domain,
//     "<url>:<line>: <libxml2 message><context line>\n<pointer>";
//   * attribute helpers (virXMLProp*): VIR_ERR_XML_ERROR in VIR_FROM_XML.
#pragma once

#include "util/error.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct _xmlDoc;
struct _xmlNode;

namespace splitvirt::conf {

// libvirt error domains/codes that util/error.hpp does not name (yet).
inline constexpr ErrorDomain kFromXml = static_cast<ErrorDomain>(5);  // VIR_FROM_XML
inline constexpr ErrorDomain kFromCpu = static_cast<ErrorDomain>(31);  // VIR_FROM_CPU
inline constexpr ErrorDomain kFromDevice = static_cast<ErrorDomain>(49);  // VIR_FROM_DEVICE
inline constexpr ErrorCode kErrNoSource = static_cast<ErrorCode>(19);  // VIR_ERR_NO_SOURCE
inline constexpr ErrorCode kErrNoTarget = static_cast<ErrorCode>(20);  // VIR_ERR_NO_TARGET
inline constexpr ErrorCode kErrOverflow = static_cast<ErrorCode>(82);  // VIR_ERR_OVERFLOW

// A non-owning view of an element node; valid while its XmlDoc lives.
class XmlNode {
 public:
  XmlNode() = default;
  explicit XmlNode(_xmlNode* n) : node_(n) {}

  explicit operator bool() const { return node_ != nullptr; }
  std::string_view name() const;
  // The attribute's value, or nullopt when absent ("" when present but empty).
  std::optional<std::string> attr(std::string_view name) const;
  // The concatenated text content (xmlNodeGetContent).
  std::string text() const;
  // Like libvirt's virXPathString("string(./x[1])"): nullopt when the child
  // is absent or its text is empty.
  std::optional<std::string> childText(std::string_view childName) const;
  // Element children, all or only those named `childName`.
  std::vector<XmlNode> children() const;
  std::vector<XmlNode> children(std::string_view childName) const;
  // First element child named `childName`; a null node when there is none.
  XmlNode child(std::string_view childName) const;
  long line() const;
  // The subtree serialized as libvirt formats opaque XML (<metadata>):
  // whitespace-only text dropped, re-indented by libxml2 for nesting
  // `level` (2 spaces per level; no indentation before the first line).
  // With `sanitizeNamespaces` (virXMLNodeSanitizeNamespaces) only the first
  // child element of each namespace is kept; other children are dropped.
  std::string dumpFormatted(int level, bool sanitizeNamespaces = false) const;

  _xmlNode* raw() const { return node_; }

 private:
  _xmlNode* node_ = nullptr;
};

class XmlDoc {
 public:
  XmlDoc(XmlDoc&& o) noexcept : doc_(o.doc_) { o.doc_ = nullptr; }
  XmlDoc& operator=(XmlDoc&& o) noexcept;
  XmlDoc(const XmlDoc&) = delete;
  XmlDoc& operator=(const XmlDoc&) = delete;
  ~XmlDoc();

  // Parses `xml` the way libvirt's virXMLParse does: `url` names the document
  // in error messages (libvirt uses "(domain_definition)" etc.), `rootName`
  // (when not empty) must be the root element's name.
  static Result<XmlDoc> parse(std::string_view xml, std::string_view url, std::string_view rootName,
                              ErrorDomain errDomain);

  XmlNode root() const;
  _xmlDoc* raw() const { return doc_; }

 private:
  explicit XmlDoc(_xmlDoc* d) : doc_(d) {}
  _xmlDoc* doc_ = nullptr;
};

// ---- virXMLProp* equivalents (errors: VIR_ERR_XML_ERROR, VIR_FROM_XML) ----

enum PropFlags : unsigned {
  kPropRequired = 1u << 0,  // absent attribute is an error
  kPropNonZero = 1u << 1,   // value 0 (or enum index 0) is an error
  kPropNonNegative = 1u << 2,  // propInt: a negative value is an error
};

// Attribute value from a fixed list of names; returns the index into `names`.
Result<std::optional<unsigned>> propEnum(XmlNode node, std::string_view attr,
                                         const std::vector<std::string_view>& names,
                                         unsigned flags = 0);
Result<std::optional<unsigned>> propUInt(XmlNode node, std::string_view attr, int base = 10,
                                         unsigned flags = 0);
Result<std::optional<int>> propInt(XmlNode node, std::string_view attr, int base = 10,
                                   unsigned flags = 0);
Result<std::optional<uint64_t>> propULongLong(XmlNode node, std::string_view attr, int base = 10,
                                              unsigned flags = 0);
// yes/no -> true/false
Result<std::optional<bool>> propYesNo(XmlNode node, std::string_view attr, unsigned flags = 0);
// on/off -> true/false
Result<std::optional<bool>> propOnOff(XmlNode node, std::string_view attr, unsigned flags = 0);

// ---- libvirt's virStrToLong_* family (strtol semantics, whole string) ----
std::optional<long long> strToLL(std::string_view s, int base = 10);
std::optional<unsigned long long> strToULL(std::string_view s, int base = 10);  // wraps negatives
std::optional<unsigned long long> strToULLp(std::string_view s, int base = 10);  // rejects '-'
std::optional<int> strToInt(std::string_view s, int base = 10);
std::optional<unsigned> strToUInt(std::string_view s, int base = 10);   // -1 wraps, like _ui
std::optional<unsigned> strToUIntp(std::string_view s, int base = 10);  // rejects '-'

// ---- Writer ----

// Produces libvirt-style XML: 2-space indentation, single-quoted attributes,
// elements without content self-closed, text-only elements on one line.
// Escaping follows virBufferEscapeString (< > & ' " escaped; control
// characters other than tab/newline/CR dropped).
class XmlWriter {
 public:
  explicit XmlWriter(unsigned baseIndent = 0) : baseIndent_(baseIndent) {}

  XmlWriter& open(std::string_view name);
  XmlWriter& attr(std::string_view name, std::string_view value);
  XmlWriter& attr(std::string_view name, const char* value) { return attr(name, std::string_view(value)); }
  XmlWriter& attr(std::string_view name, const std::string& value) {
    return attr(name, std::string_view(value));
  }
  XmlWriter& attr(std::string_view name, long long value);
  XmlWriter& attr(std::string_view name, unsigned long long value);
  XmlWriter& attr(std::string_view name, int value) { return attr(name, static_cast<long long>(value)); }
  XmlWriter& attr(std::string_view name, unsigned value) {
    return attr(name, static_cast<unsigned long long>(value));
  }
  XmlWriter& attr(std::string_view name, unsigned long value) {
    return attr(name, static_cast<unsigned long long>(value));
  }
  XmlWriter& attr(std::string_view name, long value) { return attr(name, static_cast<long long>(value)); }
  XmlWriter& attrHex(std::string_view name, unsigned value, int width);  // "0x%0*x"
  template <class T>
  XmlWriter& attrIf(std::string_view name, const std::optional<T>& v) {
    if (v) attr(name, *v);
    return *this;
  }
  XmlWriter& attrYesNo(std::string_view name, std::optional<bool> v);
  XmlWriter& attrOnOff(std::string_view name, std::optional<bool> v);
  // Text content of the current element (kept on the same line).
  XmlWriter& text(std::string_view t);
  XmlWriter& close();
  // <name>text</name>
  XmlWriter& textElement(std::string_view name, std::string_view t);
  XmlWriter& textElementIf(std::string_view name, const std::optional<std::string>& t) {
    if (t) textElement(name, *t);
    return *this;
  }
  // A preformatted element (see XmlNode::dumpFormatted) as a child of the
  // current element: indented, then newline-terminated.
  XmlWriter& raw(std::string_view xml);
  // <name/> (or with the attributes added afterwards, then close())
  XmlWriter& empty(std::string_view name) { return open(name).close(); }

  const std::string& str() const { return out_; }
  std::string take() { return std::move(out_); }

 private:
  struct Frame {
    std::string name;
    bool startOpen = true;  // "<name attr..." written, '>' not yet
    bool hasChildren = false;
    bool hasText = false;
  };
  void indent(size_t depth);
  void finishStartTag(bool forChild);

  unsigned baseIndent_;
  std::vector<Frame> stack_;
  std::string out_;
};

// virBufferEscapeString's escaping.
std::string xmlEscape(std::string_view s);

}  // namespace splitvirt::conf
