// <graphics>, <video>, <input> and <audio>.
#include "conf/domain_def_detail.hpp"

namespace splitvirt::conf {

using namespace detail;

namespace {

const Names kListenTypeNames = {"none", "address", "network", "socket"};
const Names kSharePolicyNames = {"allow-exclusive", "force-shared", "ignore"};
const Names kVideoModelNames = {"default", "vga", "cirrus", "vmvga", "xen", "vbox", "qxl",
                                "parallels", "virtio", "gop", "none", "bochs", "ramfb"};
const Names kAudioTypeNames = {"none", "alsa", "coreaudio", "jack", "oss", "pulseaudio", "sdl", "spice",
                               "file", "dbus"};

Result<void> parseListens(XmlNode node, GraphicsDef& g, ErrorDomain d) {
  for (XmlNode l : node.children("listen")) {
    GraphicsListen gl;
    std::optional<unsigned> t;
    SV_TRY_ASSIGN(t, propEnum(l, "type", kListenTypeNames, kPropRequired));
    gl.type = kListenTypeNames[*t];
    if (gl.type != "network" && l.attr("network"))
      return xmlErr(d, "'network' attribute is valid only for listen type 'network'");
    if (gl.type == "address") {
      gl.address = l.attr("address");
      if (gl.address && gl.address->empty()) gl.address.reset();
    } else if (gl.type == "network") {
      gl.network = l.attr("network");
      if (!gl.network) return xmlErr(d, "'network' attribute is required for listen type 'network'");
    } else if (gl.type == "socket") {
      gl.socket = l.attr("socket");
    }
    g.listens.push_back(std::move(gl));
  }
  auto listenAttr = node.attr("listen");
  if (listenAttr && listenAttr->empty()) listenAttr.reset();
  if (!g.listens.empty()) {
    if (listenAttr && g.listens[0].type == "address") {
      if (!g.listens[0].address) {
        g.listens[0].address = listenAttr;
      } else if (*g.listens[0].address != *listenAttr) {
        return cfgErr(d, "graphics 'listen' attribute '" + *listenAttr +
                             "' must match 'address' attribute of first listen element (found '" +
                             *g.listens[0].address + "')");
      }
    }
    return {};
  }
  GraphicsListen gl;
  gl.type = "address";
  gl.address = listenAttr;
  if (g.type == GraphicsType::Vnc) {
    if (auto sock = node.attr("socket"); sock && !listenAttr) {
      gl.type = "socket";
      gl.socket = sock;
    }
  } else if (g.type == GraphicsType::Spice) {
    if (!listenAttr && g.port == 0 && g.tlsPort == 0 && g.autoport != true) gl.type = "none";
  } else {
    return {};  // other types keep what they had (no listens)
  }
  g.listens.push_back(std::move(gl));
  return {};
}

Result<int> parsePort(XmlNode node, const char* attr, const std::string& what, ErrorDomain d) {
  auto v = node.attr(attr);
  if (!v) return 0;
  auto p = strToInt(*v);
  if (!p) return intErr(d, "cannot parse " + what + " " + *v);
  return *p;
}

}  // namespace

// ---------------- <graphics> ----------------

Result<GraphicsDef> detail::parseGraphics(XmlNode node, ErrorDomain d) {
  GraphicsDef g;
  std::optional<unsigned> t;
  SV_TRY_ASSIGN(t, propEnum(node, "type", kGraphicsTypeNames, kPropRequired));
  g.type = static_cast<GraphicsType>(*t);
  if (g.type == GraphicsType::Vnc) {
    bool hasPort = node.attr("port").has_value();
    SV_TRY_ASSIGN(g.port, parsePort(node, "port", "vnc port", d));
    bool autoport = !hasPort || g.port == -1;
    if (auto a = node.attr("autoport")) {
      if (*a == "yes") autoport = true;
      else if (*a == "no") autoport = false;
    }
    if (autoport) g.port = 0;  // inactive config: the port is chosen at start
    g.autoport = autoport;
    std::optional<int> ws;
    SV_TRY_ASSIGN(ws, propInt(node, "websocket"));
    g.websocket = ws.value_or(0);
    std::optional<unsigned> sp;
    SV_TRY_ASSIGN(sp, propEnum(node, "sharePolicy", kSharePolicyNames));
    if (sp) g.sharePolicy = std::string(kSharePolicyNames[*sp]);
    g.keymap = node.attr("keymap");
    g.passwd = node.attr("passwd");
  } else if (g.type == GraphicsType::Spice) {
    std::optional<int> p;
    SV_TRY_ASSIGN(p, propInt(node, "port"));
    g.port = p.value_or(0);
    SV_TRY_ASSIGN(p, propInt(node, "tlsPort"));
    g.tlsPort = p.value_or(0);
    std::optional<bool> ap;
    SV_TRY_ASSIGN(ap, propYesNo(node, "autoport"));
    if (ap == true) g.autoport = true;
    if (g.port == -1 && g.tlsPort == -1) g.autoport = true;  // legacy syntax
    if (g.autoport == true) {
      g.port = 0;
      g.tlsPort = 0;
    } else if (g.port > 0 || g.tlsPort > 0) {
      g.autoport = false;
    }
    g.keymap = node.attr("keymap");
    g.passwd = node.attr("passwd");
  }
  SV_TRY_VOID(parseListens(node, g, d));
  // SPICE with no port to listen on gets a single <listen type='none'/>
  if (g.type == GraphicsType::Spice && g.port == 0 && g.tlsPort == 0 && g.autoport != true &&
      !g.listens.empty() && (g.listens[0].type == "address" || g.listens[0].type == "network"))
    g.listens = {GraphicsListen{"none", std::nullopt, std::nullopt, std::nullopt}};
  return g;
}

void detail::formatGraphics(XmlWriter& w, const GraphicsDef& g, unsigned flags) {
  w.open("graphics").attr("type", enumName(kGraphicsTypeNames, g.type));
  const GraphicsListen* first = g.listens.empty() ? nullptr : &g.listens[0];
  auto listenAttr = [&] {
    if (first && first->type == "address" && first->address) w.attr("listen", *first->address);
  };
  auto passwd = [&] {
    if (g.passwd && (flags & kFormatSecure)) w.attr("passwd", *g.passwd);
  };
  if (g.type == GraphicsType::Vnc) {
    if (first && first->type == "socket") {
      w.attrIf("socket", first->socket);
    } else if (!first || first->type != "none") {
      if (g.port && !(g.autoport == true && (flags & kFormatInactive)))
        w.attr("port", g.port);
      else if (g.autoport == true)
        w.attr("port", -1);
      w.attr("autoport", g.autoport == true ? "yes" : "no");
      if (g.websocket) w.attr("websocket", g.websocket);
      listenAttr();
    }
    w.attrIf("keymap", g.keymap).attrIf("sharePolicy", g.sharePolicy);
    passwd();
  } else if (g.type == GraphicsType::Spice) {
    if (!first || first->type != "none") {
      if (g.port) w.attr("port", g.port);
      if (g.tlsPort) w.attr("tlsPort", g.tlsPort);
      if (g.autoport) w.attr("autoport", *g.autoport ? "yes" : "no");
      listenAttr();
    }
    w.attrIf("keymap", g.keymap);
    passwd();
  }
  for (const auto& l : g.listens) {
    w.open("listen").attr("type", l.type);
    w.attrIf("address", l.address).attrIf("network", l.network).attrIf("socket", l.socket);
    w.close();
  }
  w.close();
}

// ---------------- <video> ----------------

Result<VideoDef> detail::parseVideo(XmlNode node, ErrorDomain d) {
  VideoDef v;
  if (XmlNode model = node.child("model")) {
    if (auto type = model.attr("type"); type && !type->empty()) {
      if (enumIndex(kVideoModelNames, *type) < 0) return cfgErr(d, "unknown video model '" + *type + "'");
      v.model = *type;
    }
    auto num = [&](const char* attr, std::optional<unsigned>& out) -> Result<void> {
      if (auto s = model.attr(attr); s && !s->empty()) {  // empty counts as absent
        auto n = strToUIntp(*s);
        if (!n) {
          std::string msg = "cannot parse video " + std::string(attr) + " '" + *s + "'";
          return std::string_view(attr) == "heads" ? intErr(d, msg) : xmlErr(d, msg);
        }
        out = *n;
      }
      return {};
    };
    SV_TRY_VOID(num("ram", v.ram));
    SV_TRY_VOID(num("vram", v.vram));
    SV_TRY_VOID(num("vram64", v.vram64));
    SV_TRY_VOID(num("vgamem", v.vgamem));
    SV_TRY_VOID(num("heads", v.heads));
    if (auto p = model.attr("primary"); p && *p == "yes") v.primary = true;
  }
  SV_TRY_VOID(parseDeviceInfo(node, v.info, d, false));
  return v;
}

void detail::formatVideo(XmlWriter& w, const VideoDef& v, unsigned flags) {
  w.open("video");
  w.open("model").attr("type", v.model);
  // like libvirt, zero means unset
  auto nz = [](const std::optional<unsigned>& x) { return x && *x ? x : std::nullopt; };
  w.attrIf("ram", nz(v.ram)).attrIf("vram", nz(v.vram)).attrIf("vram64", nz(v.vram64)).attrIf("vgamem", nz(v.vgamem));
  w.attrIf("heads", nz(v.heads));
  if (v.primary) w.attr("primary", "yes");
  w.close();
  formatDeviceInfo(w, v.info, flags);
  w.close();
}

// ---------------- <input> ----------------

Result<InputDef> detail::parseInput(XmlNode node, ErrorDomain d) {
  InputDef in;
  auto type = node.attr("type");
  if (!type) return intErr(d, "missing input device type");
  int t = enumIndex(kInputTypeNames, *type);
  if (t < 0) return cfgErr(d, "unknown input device type '" + *type + "'");
  in.type = static_cast<InputType>(t);
  if (auto bus = node.attr("bus")) {
    int b = enumIndex(kInputBusNames, *bus);
    if (b <= 0) return cfgErr(d, "unknown input bus type '" + *bus + "'");
    in.bus = static_cast<InputBus>(b);
    if (in.bus == InputBus::Ps2 && in.type != InputType::Mouse && in.type != InputType::Keyboard)
      return intErr(d, "ps2 bus does not support " + *type + " input device");
  }
  SV_TRY_VOID(parseDeviceInfo(node, in.info, d, false));
  return in;
}

void detail::formatInput(XmlWriter& w, const InputDef& in, unsigned flags) {
  w.open("input").attr("type", enumName(kInputTypeNames, in.type));
  if (in.bus != InputBus::Default && in.bus != InputBus::None) w.attr("bus", enumName(kInputBusNames, in.bus));
  formatDeviceInfo(w, in.info, flags);
  w.close();
}

// ---------------- <audio> ----------------

Result<AudioDef> detail::parseAudio(XmlNode node, ErrorDomain d) {
  AudioDef a;
  std::optional<unsigned> v;
  SV_TRY_ASSIGN(v, propUInt(node, "id", 10, kPropRequired | kPropNonZero));
  a.id = *v;
  SV_TRY_ASSIGN(v, propEnum(node, "type", kAudioTypeNames, kPropRequired));
  a.type = kAudioTypeNames[*v];
  return a;
}

void detail::formatAudio(XmlWriter& w, const AudioDef& a) {
  w.open("audio").attr("id", a.id).attr("type", a.type).close();
}

}  // namespace splitvirt::conf
