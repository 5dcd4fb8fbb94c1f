#include "conf/xml.hpp"

#include <libxml/parser.h>
#include <libxml/tree.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace splitvirt::conf {

namespace {

const xmlChar* xc(const char* s) { return reinterpret_cast<const xmlChar*>(s); }

bool nameIs(const xmlNode* n, std::string_view name) {
  return n->type == XML_ELEMENT_NODE && n->name &&
         std::string_view(reinterpret_cast<const char*>(n->name)) == name;
}

// ---- not-well-formed reporting (libvirt's catchXMLError) ----

struct ParseState {
  bool captured = false;
  std::string message;
};

void catchXmlError(void* ctx, const char* /*msg*/, ...) {
  auto* ctxt = static_cast<xmlParserCtxtPtr>(ctx);
  if (!ctxt || !ctxt->_private) return;
  auto* st = static_cast<ParseState*>(ctxt->_private);
  if (st->captured || ctxt->input == nullptr || ctxt->lastError.level != XML_ERR_FATAL ||
      ctxt->lastError.message == nullptr)
    return;

  const xmlChar* cur = ctxt->input->cur;
  const xmlChar* base = ctxt->input->base;
  // skip backwards over any end-of-lines
  while (cur > base && (*cur == '\n' || *cur == '\r')) cur--;
  // search backwards for beginning-of-line
  while (cur > base && *cur != '\n' && *cur != '\r') cur--;
  if (*cur == '\n' || *cur == '\r') cur++;
  size_t col = static_cast<size_t>(ctxt->input->cur - cur);

  std::string context;
  while (*cur != 0 && *cur != '\n' && *cur != '\r') context.push_back(static_cast<char>(*cur++));

  std::string pointer;
  for (size_t n = 0; n < col && n < context.size(); n++) pointer.push_back(context[n] == '\t' ? '\t' : '-');
  pointer.push_back('^');

  // glib's printf prints "(null)" for the NULL an empty virBuffer yields.
  std::string ctxStr = context.empty() ? "(null)" : context;
  std::string out;
  if (ctxt->lastError.file) {
    out = std::string(ctxt->lastError.file) + ":" + std::to_string(ctxt->lastError.line) + ": " +
          ctxt->lastError.message + ctxStr + "\n" + pointer;
  } else {
    out = "at line " + std::to_string(ctxt->lastError.line) + ": " + ctxt->lastError.message + ctxStr +
          "\n" + pointer;
  }
  st->message = std::move(out);
  st->captured = true;
}

Error xmlPropError(std::string detail) { return Error::xmlError(kFromXml, std::move(detail)); }

Error invalidAttr(XmlNode node, std::string_view attr, const std::string& value, std::string_view suffix) {
  return xmlPropError("Invalid value for attribute '" + std::string(attr) + "' in element '" +
                      std::string(node.name()) + "': '" + value + "'." + std::string(suffix));
}

Error missingAttr(XmlNode node, std::string_view attr) {
  return xmlPropError("Missing required attribute '" + std::string(attr) + "' in element '" +
                      std::string(node.name()) + "'");
}

Error zeroAttr(XmlNode node, std::string_view attr) {
  return xmlPropError("Invalid value for attribute '" + std::string(attr) + "' in element '" +
                      std::string(node.name()) + "': Zero is not permitted");
}

}  // namespace

// ---------------- XmlNode ----------------

std::string_view XmlNode::name() const {
  if (!node_ || !node_->name) return {};
  return reinterpret_cast<const char*>(node_->name);
}

std::optional<std::string> XmlNode::attr(std::string_view name) const {
  if (!node_) return std::nullopt;
  std::string n(name);
  xmlChar* v = xmlGetNoNsProp(node_, xc(n.c_str()));
  if (!v) return std::nullopt;
  std::string out(reinterpret_cast<const char*>(v));
  xmlFree(v);
  return out;
}

std::string XmlNode::text() const {
  if (!node_) return {};
  xmlChar* v = xmlNodeGetContent(node_);
  if (!v) return {};
  std::string out(reinterpret_cast<const char*>(v));
  xmlFree(v);
  return out;
}

std::optional<std::string> XmlNode::childText(std::string_view childName) const {
  XmlNode c = child(childName);
  if (!c) return std::nullopt;
  std::string t = c.text();
  if (t.empty()) return std::nullopt;
  return t;
}

std::vector<XmlNode> XmlNode::children() const {
  std::vector<XmlNode> out;
  if (!node_) return out;
  for (xmlNode* c = node_->children; c; c = c->next)
    if (c->type == XML_ELEMENT_NODE) out.emplace_back(c);
  return out;
}

std::vector<XmlNode> XmlNode::children(std::string_view childName) const {
  std::vector<XmlNode> out;
  if (!node_) return out;
  for (xmlNode* c = node_->children; c; c = c->next)
    if (nameIs(c, childName)) out.emplace_back(c);
  return out;
}

XmlNode XmlNode::child(std::string_view childName) const {
  if (!node_) return XmlNode();
  for (xmlNode* c = node_->children; c; c = c->next)
    if (nameIs(c, childName)) return XmlNode(c);
  return XmlNode();
}

long XmlNode::line() const { return node_ ? xmlGetLineNo(node_) : -1; }

namespace {
// Drops the whitespace-only text libxml2 would not have kept when parsing
// with keepBlanks=0 (its areBlanks() heuristic): blanks are kept when they
// are an element's only content or follow/accompany other text.
void removeBlankText(xmlNodePtr n) {
  xmlNodePtr firstKept = nullptr, lastKept = nullptr;
  for (xmlNodePtr c = n->children; c;) {
    xmlNodePtr next = c->next;
    if (c->type == XML_TEXT_NODE && xmlIsBlankNode(c)) {
      bool onlyContent = !lastKept && !next;
      bool keep = onlyContent || (lastKept && lastKept->type == XML_TEXT_NODE) ||
                  (firstKept && firstKept->type == XML_TEXT_NODE);
      if (!keep) {
        xmlUnlinkNode(c);
        xmlFreeNode(c);
        c = next;
        continue;
      }
    } else if (c->type == XML_ELEMENT_NODE) {
      removeBlankText(c);
    }
    if (!firstKept) firstKept = c;
    lastKept = c;
    c = next;
  }
}

void sanitizeNamespaces(xmlNodePtr node) {
  for (xmlNodePtr child = node->children; child;) {
    if (!child->ns || !child->ns->href) {
      xmlNodePtr dupl = child;
      child = child->next;
      xmlUnlinkNode(dupl);
      xmlFreeNode(dupl);
      continue;
    }
    for (xmlNodePtr next = child->next; next;) {
      xmlNodePtr dupl = nullptr;
      if (next->ns && next->ns->href && xmlStrEqual(child->ns->href, next->ns->href)) dupl = next;
      next = next->next;
      if (dupl) {
        xmlUnlinkNode(dupl);
        xmlFreeNode(dupl);
      }
    }
    child = child->next;
  }
}
}  // namespace

std::string XmlNode::dumpFormatted(int level, bool sanitize) const {
  if (!node_) return {};
  xmlDocPtr doc = xmlNewDoc(reinterpret_cast<const xmlChar*>("1.0"));
  xmlNodePtr copy = xmlDocCopyNode(node_, doc, 1);
  std::string out;
  if (copy) {
    xmlDocSetRootElement(doc, copy);
    if (sanitize) sanitizeNamespaces(copy);
    removeBlankText(copy);
    xmlBufferPtr buf = xmlBufferCreate();
    int oldIndent = xmlIndentTreeOutput;
    xmlIndentTreeOutput = 1;
    if (xmlNodeDump(buf, doc, copy, level, 1) >= 0) out = reinterpret_cast<const char*>(xmlBufferContent(buf));
    xmlIndentTreeOutput = oldIndent;
    xmlBufferFree(buf);
  }
  xmlFreeDoc(doc);
  return out;
}

// ---------------- XmlDoc ----------------

XmlDoc& XmlDoc::operator=(XmlDoc&& o) noexcept {
  if (this != &o) {
    if (doc_) xmlFreeDoc(doc_);
    doc_ = o.doc_;
    o.doc_ = nullptr;
  }
  return *this;
}

XmlDoc::~XmlDoc() {
  if (doc_) xmlFreeDoc(doc_);
}

XmlNode XmlDoc::root() const { return XmlNode(doc_ ? xmlDocGetRootElement(doc_) : nullptr); }

Result<XmlDoc> XmlDoc::parse(std::string_view xml, std::string_view url, std::string_view rootName,
                             ErrorDomain errDomain) {
  static std::once_flag initOnce;
  std::call_once(initOnce, [] { xmlInitParser(); });
  xmlParserCtxtPtr pctxt = xmlNewParserCtxt();
  if (!pctxt || !pctxt->sax) {
    if (pctxt) xmlFreeParserCtxt(pctxt);
    return Error::internal(errDomain, "failed to allocate parser context");
  }
  ParseState st;
  pctxt->_private = &st;
  pctxt->sax->error = catchXmlError;

  std::string urlStr(url);
  // libvirt passes strlen(xmlStr): an embedded NUL ends the document.
  size_t len = xml.size();
  if (auto nul = xml.find('\0'); nul != std::string_view::npos) len = nul;
  xmlDocPtr doc = xmlCtxtReadMemory(pctxt, xml.data(), static_cast<int>(len), urlStr.c_str(), nullptr,
                                    XML_PARSE_NONET | XML_PARSE_NOWARNING);
  xmlFreeParserCtxt(pctxt);

  if (!doc) {
    if (st.captured) return Error::xmlDetail(errDomain, st.message);
    return Error::xmlError(errDomain, "failed to parse xml document '" + urlStr + "'");
  }
  XmlDoc out(doc);
  xmlNodePtr root = xmlDocGetRootElement(doc);
  if (!root) return Error::internal(kFromXml, "missing root element");
  if (!rootName.empty() && !nameIs(root, rootName)) {
    return Error::xmlError(kFromXml, "expecting root element of '" + std::string(rootName) + "', not '" +
                                         reinterpret_cast<const char*>(root->name) + "'");
  }
  return out;
}

// ---------------- virStrToLong_* ----------------

namespace {

template <class F>
auto strtoxWhole(std::string_view s, F f) -> std::optional<decltype(f(nullptr, nullptr))> {
  std::string tmp(s);
  const char* p = tmp.c_str();
  char* end = nullptr;
  errno = 0;
  auto v = f(p, &end);
  if (errno != 0 || end == p || *end != '\0') return std::nullopt;
  return v;
}

bool hasMinus(std::string_view s) { return s.find('-') != std::string_view::npos; }

}  // namespace

std::optional<long long> strToLL(std::string_view s, int base) {
  return strtoxWhole(s, [base](const char* p, char** e) { return std::strtoll(p, e, base); });
}

std::optional<unsigned long long> strToULL(std::string_view s, int base) {
  return strtoxWhole(s, [base](const char* p, char** e) { return std::strtoull(p, e, base); });
}

std::optional<unsigned long long> strToULLp(std::string_view s, int base) {
  if (hasMinus(s)) return std::nullopt;
  return strToULL(s, base);
}

std::optional<int> strToInt(std::string_view s, int base) {
  auto v = strtoxWhole(s, [base](const char* p, char** e) { return std::strtol(p, e, base); });
  if (!v || *v < INT_MIN || *v > INT_MAX) return std::nullopt;
  return static_cast<int>(*v);
}

std::optional<unsigned> strToUInt(std::string_view s, int base) {
  auto v = strtoxWhole(s, [base](const char* p, char** e) { return std::strtoul(p, e, base); });
  if (!v) return std::nullopt;
  unsigned long val = *v;
  if (hasMinus(s)) {
    if (-val > UINT_MAX) return std::nullopt;
    val &= UINT_MAX;
  }
  if (val > UINT_MAX) return std::nullopt;
  return static_cast<unsigned>(val);
}

std::optional<unsigned> strToUIntp(std::string_view s, int base) {
  if (hasMinus(s)) return std::nullopt;
  return strToUInt(s, base);
}

// ---------------- virXMLProp* ----------------

Result<std::optional<unsigned>> propEnum(XmlNode node, std::string_view attr,
                                         const std::vector<std::string_view>& names, unsigned flags) {
  auto v = node.attr(attr);
  if (!v) {
    if (flags & kPropRequired) return missingAttr(node, attr);
    return std::optional<unsigned>();
  }
  for (unsigned i = 0; i < names.size(); i++) {
    if (names[i] == *v) {
      if (i == 0 && (flags & kPropNonZero)) break;
      return std::optional<unsigned>(i);
    }
  }
  return invalidAttr(node, attr, *v, "");
}

Result<std::optional<unsigned>> propUInt(XmlNode node, std::string_view attr, int base, unsigned flags) {
  auto v = node.attr(attr);
  if (!v) {
    if (flags & kPropRequired) return missingAttr(node, attr);
    return std::optional<unsigned>();
  }
  auto n = strToUIntp(*v, base);
  if (!n) return invalidAttr(node, attr, *v, " Expected non-negative integer value");
  if ((flags & kPropNonZero) && *n == 0) return zeroAttr(node, attr);
  return std::optional<unsigned>(*n);
}

Result<std::optional<int>> propInt(XmlNode node, std::string_view attr, int base, unsigned flags) {
  auto v = node.attr(attr);
  if (!v) {
    if (flags & kPropRequired) return missingAttr(node, attr);
    return std::optional<int>();
  }
  auto n = strToInt(*v, base);
  if (!n) return invalidAttr(node, attr, *v, " Expected integer value");
  if ((flags & kPropNonNegative) && *n < 0) return invalidAttr(node, attr, *v, " Expected non-negative value");
  if ((flags & kPropNonZero) && *n == 0) return zeroAttr(node, attr);
  return std::optional<int>(*n);
}

Result<std::optional<uint64_t>> propULongLong(XmlNode node, std::string_view attr, int base,
                                              unsigned flags) {
  auto v = node.attr(attr);
  if (!v) {
    if (flags & kPropRequired) return missingAttr(node, attr);
    return std::optional<uint64_t>();
  }
  auto n = strToULLp(*v, base);
  if (!n) return invalidAttr(node, attr, *v, " Expected non-negative integer value");
  if ((flags & kPropNonZero) && *n == 0) return zeroAttr(node, attr);
  return std::optional<uint64_t>(*n);
}

namespace {
Result<std::optional<bool>> propBool(XmlNode node, std::string_view attr, unsigned flags,
                                     std::string_view yes, std::string_view no) {
  // libvirt's tristate enums: index 0 "default" is never accepted here.
  auto r = propEnum(node, attr, {"default", yes, no}, flags | kPropNonZero);
  if (!r) return r.error();
  if (!*r) return std::optional<bool>();
  return std::optional<bool>(**r == 1);
}
}  // namespace

Result<std::optional<bool>> propYesNo(XmlNode node, std::string_view attr, unsigned flags) {
  return propBool(node, attr, flags, "yes", "no");
}

Result<std::optional<bool>> propOnOff(XmlNode node, std::string_view attr, unsigned flags) {
  return propBool(node, attr, flags, "on", "off");
}

// ---------------- XmlWriter ----------------

std::string xmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    switch (ch) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        if (c >= 0x20 || ch == '\n' || ch == '\t' || ch == '\r') out.push_back(ch);
        break;
    }
  }
  return out;
}

void XmlWriter::indent(size_t depth) { out_.append(2 * (baseIndent_ + depth), ' '); }

void XmlWriter::finishStartTag(bool forChild) {
  if (stack_.empty()) return;
  Frame& f = stack_.back();
  if (f.startOpen) {
    out_ += forChild ? ">\n" : ">";
    f.startOpen = false;
  }
}

XmlWriter& XmlWriter::open(std::string_view name) {
  if (!stack_.empty()) {
    finishStartTag(true);
    stack_.back().hasChildren = true;
  }
  indent(stack_.size());
  out_ += '<';
  out_ += name;
  stack_.push_back(Frame{std::string(name)});
  return *this;
}

XmlWriter& XmlWriter::attr(std::string_view name, std::string_view value) {
  out_ += ' ';
  out_ += name;
  out_ += "='";
  out_ += xmlEscape(value);
  out_ += '\'';
  return *this;
}

XmlWriter& XmlWriter::attr(std::string_view name, long long value) {
  return attr(name, std::string_view(std::to_string(value)));
}

XmlWriter& XmlWriter::attr(std::string_view name, unsigned long long value) {
  return attr(name, std::string_view(std::to_string(value)));
}

XmlWriter& XmlWriter::attrHex(std::string_view name, unsigned value, int width) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%0*x", width, value);
  return attr(name, std::string_view(buf));
}

XmlWriter& XmlWriter::attrYesNo(std::string_view name, std::optional<bool> v) {
  if (v) attr(name, *v ? "yes" : "no");
  return *this;
}

XmlWriter& XmlWriter::attrOnOff(std::string_view name, std::optional<bool> v) {
  if (v) attr(name, *v ? "on" : "off");
  return *this;
}

XmlWriter& XmlWriter::raw(std::string_view xml) {
  if (!stack_.empty()) {
    finishStartTag(true);
    stack_.back().hasChildren = true;
  }
  indent(stack_.size());
  out_ += xml;
  out_ += '\n';
  return *this;
}

XmlWriter& XmlWriter::text(std::string_view t) {
  finishStartTag(false);
  stack_.back().hasText = true;
  out_ += xmlEscape(t);
  return *this;
}

XmlWriter& XmlWriter::close() {
  Frame f = std::move(stack_.back());
  stack_.pop_back();
  if (f.startOpen) {
    out_ += "/>\n";
  } else {
    if (f.hasChildren) indent(stack_.size());
    out_ += "</";
    out_ += f.name;
    out_ += ">\n";
  }
  return *this;
}

XmlWriter& XmlWriter::textElement(std::string_view name, std::string_view t) {
  return open(name).text(t).close();
}

}  // namespace splitvirt::conf
