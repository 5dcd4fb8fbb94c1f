#include "conf/schema.hpp"

#include "conf/xml.hpp"

#include <libxml/relaxng.h>

#include <cstdarg>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>

namespace splitvirt::conf {

namespace {

struct SchemaDeleter {
  void operator()(xmlRelaxNGPtr p) const { xmlRelaxNGFree(p); }
};

std::mutex gSchemaMutex;
std::map<std::string, std::unique_ptr<xmlRelaxNG, SchemaDeleter>, std::less<>> gSchemas;

void appendV(std::string* buf, const char* fmt, va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  int n = std::vsnprintf(nullptr, 0, fmt, ap2);
  va_end(ap2);
  if (n <= 0) return;
  std::string tmp(static_cast<size_t>(n) + 1, '\0');
  std::vsnprintf(tmp.data(), tmp.size(), fmt, ap);
  tmp.resize(static_cast<size_t>(n));
  *buf += tmp;
}

void catchRngError(void* ctx, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  appendV(static_cast<std::string*>(ctx), fmt, ap);
  va_end(ap);
}

void ignoreRngError(void*, const char*, ...) {}

// Loads (or finds) the compiled schema; call with gSchemaMutex held.
Result<xmlRelaxNGPtr> schemaFor(std::string_view rngPath) {
  if (auto it = gSchemas.find(rngPath); it != gSchemas.end()) return it->second.get();
  std::string path(rngPath);
  xmlRelaxNGParserCtxtPtr pctxt = xmlRelaxNGNewParserCtxt(path.c_str());
  if (!pctxt) return Error::internal(kFromXml, "Unable to create RNG parser for " + path);
  std::string errors;
  xmlRelaxNGSetParserErrors(pctxt, catchRngError, ignoreRngError, &errors);
  xmlRelaxNGPtr rng = xmlRelaxNGParse(pctxt);
  xmlRelaxNGFreeParserCtxt(pctxt);
  if (!rng) return Error::internal(kFromXml, "Unable to parse RNG " + path + ": " + errors);
  gSchemas.emplace(path, std::unique_ptr<xmlRelaxNG, SchemaDeleter>(rng));
  return rng;
}

}  // namespace

Result<void> validateAgainstSchema(std::string_view xml, std::string_view rngPath, ErrorDomain errDomain) {
  auto doc = XmlDoc::parse(xml, "(domain_definition)", "", errDomain);
  if (!doc) return doc.error();
  return validateDocAgainstSchema(*doc, rngPath);
}

Result<void> validateDocAgainstSchema(const XmlDoc& doc, std::string_view rngPath) {
  std::lock_guard lock(gSchemaMutex);
  auto rng = schemaFor(rngPath);
  if (!rng) return rng.error();
  xmlRelaxNGValidCtxtPtr vctxt = xmlRelaxNGNewValidCtxt(*rng);
  if (!vctxt) return Error::internal(kFromXml, "Unable to create RNG validation context " + std::string(rngPath));
  std::string errors;
  xmlRelaxNGSetValidErrors(vctxt, catchRngError, ignoreRngError, &errors);
  int rc = xmlRelaxNGValidateDoc(vctxt, doc.raw());
  xmlRelaxNGFreeValidCtxt(vctxt);
  if (rc != 0) {
    return Error::xmlInvalidSchema(kFromXml,
                                   "Unable to validate doc against " + std::string(rngPath) + "\n" + errors);
  }
  return {};
}

}  // namespace splitvirt::conf
