#include "xdr/codec.hpp"

namespace splitvirt::xdr {

void encodeTypedParamValue(Writer& w, const TypedParamValue& v) {
  w.i32(static_cast<int32_t>(v.index()) + 1);
  std::visit(
      [&](const auto& x) {
        using X = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<X, TypedParamBool>)
          w.i32(x.value);
        else
          encode(w, x);
      },
      v);
}

bool decodeTypedParamValue(Reader& r, TypedParamValue& v) {
  int32_t type;
  if (!r.i32(type)) return false;
  switch (type) {
    case 1: { int32_t x; if (!decode(r, x)) return false; v = x; return true; }
    case 2: { uint32_t x; if (!decode(r, x)) return false; v = x; return true; }
    case 3: { int64_t x; if (!decode(r, x)) return false; v = x; return true; }
    case 4: { uint64_t x; if (!decode(r, x)) return false; v = x; return true; }
    case 5: { double x; if (!decode(r, x)) return false; v = x; return true; }
    case 6: { int32_t x; if (!decode(r, x)) return false; v = TypedParamBool{x}; return true; }
    case 7: { std::string x; if (!decode(r, x)) return false; v = std::move(x); return true; }
    default: return false;
  }
}

}  // namespace splitvirt::xdr
