// The QEMU command line builder: input devices, audio backends, VNC, video
// and the memory balloon, in libvirt 9.0's order and spelling
// (qemuBuildInputCommandLine ... qemuBuildMemballoonCommandLine).
#include "process/command_builder_detail.hpp"

namespace splitvirt::qemu::cmd {

using namespace conf;

Result<void> Builder::buildInputs() {
  for (size_t i = 0; i < def_.inputs.size(); i++) {
    const InputDef& in = def_.inputs[i];
    if (in.bus == InputBus::Ps2) continue;  // i8042 devices are built into the machine
    const std::string alias = aliasOr(in.info, "input" + std::to_string(i));
    const char* kind = in.type == InputType::Mouse    ? "mouse"
                       : in.type == InputType::Tablet ? "tablet"
                       : in.type == InputType::Keyboard ? "kbd"
                                                        : nullptr;
    if (!kind) return cfgErr("input device " + alias + " is not supported");
    JsonProps dev;
    if (in.bus == InputBus::Usb) {
      const ControllerDef* usb = findController(ControllerType::Usb, static_cast<int>(in.info.usb.bus));
      if (!usb || usb->model == "none")
        return cfgErr("USB is disabled for this domain, but USB devices are present in the domain XML");
      dev.str("driver", std::string("usb-") + kind).str("id", alias);
      if (in.info.addressType == AddressType::Usb) {
        dev.str("bus", controllerAlias(ControllerType::Usb, static_cast<int>(in.info.usb.bus)) + ".0");
        if (!in.info.usb.port.empty()) dev.str("port", in.info.usb.port);
      }
    } else if (in.bus == InputBus::Virtio) {
      dev.str("driver", std::string("virtio-") + (in.type == InputType::Keyboard ? "keyboard" : kind) + "-pci")
          .str("id", alias);
      SV_TRY_VOID(addPciAddress(dev, in.info));
    } else {
      return cfgErr("input bus of " + alias + " is not supported");
    }
    addDevice(dev);
  }
  return {};
}

Result<void> Builder::buildAudio() {
  for (const AudioDef& a : def_.audios) {
    if (a.type != "none") return cfgErr("audio backend '" + a.type + "' is not supported");
    add("-audiodev", JsonProps().str("id", "audio" + std::to_string(a.id)).str("driver", "none").text());
  }
  return {};
}

// qemuBuildGraphicsVNCCommandLine
Result<void> Builder::buildGraphics() {
  bool haveVnc = false;
  for (const GraphicsDef& g : def_.graphics) {
    if (g.type != GraphicsType::Vnc) return cfgErr("only VNC graphics are supported");
    if (haveVnc)
      return cfgErr("only 1 graphics device of each type (sdl, vnc, spice, headless, dbus) is supported");
    haveVnc = true;
    const GraphicsListen fallback{"address", std::nullopt, std::nullopt, std::nullopt};
    const GraphicsListen& l = g.listens.empty() ? fallback : g.listens[0];
    std::string opt;
    if (l.type == "socket") {
      std::string path = l.socket.value_or("");
      if (path.empty()) {
        if (opts_.domainDir.empty()) return intErr("no domain directory for the VNC socket");
        path = opts_.domainDir + "/vnc.sock";
      }
      opt = "vnc=unix:" + escapeComma(path);
    } else if (l.type == "address") {
      std::string addr = l.address.value_or("127.0.0.1");
      if (addr.find(':') != std::string::npos) addr = "[" + addr + "]";
      const int port = g.port > 0 ? g.port : opts_.vncPortBase;
      if (port < 5900 || port > 65535) return cfgErr("vnc port must be in range [5900,65535]");
      opt = addr + ":" + std::to_string(port - 5900);
      if (g.websocket > 0) opt += ",websocket=" + std::to_string(g.websocket);
    } else if (l.type == "none") {
      opt = "none";
    } else {
      return cfgErr("VNC listen type '" + l.type + "' is not supported");
    }
    if (g.sharePolicy) opt += ",share=" + *g.sharePolicy;
    if (g.passwd) opt += ",password=on";
    if (!def_.audios.empty()) opt += ",audiodev=audio" + std::to_string(def_.audios[0].id);
    add("-vnc", opt);
    if (g.keymap) add("-k", *g.keymap);
  }
  return {};
}

// qemuBuildDeviceVideoCmd
Result<void> Builder::buildVideos() {
  for (size_t i = 0; i < def_.videos.size(); i++) {
    const VideoDef& v = def_.videos[i];
    if (v.model == "none") continue;
    const bool primary = i == 0;
    const std::string alias = aliasOr(v.info, "video" + std::to_string(i));
    JsonProps dev;
    const auto kib = [](std::optional<unsigned> x) { return static_cast<int64_t>(x.value_or(0)); };
    if (v.model == "vga") {
      if (!primary) return cfgErr("video type vga is only valid as primary video device");
      dev.str("driver", "VGA").str("id", alias);
      if (v.vram) dev.num("vgamem_mb", kib(v.vram) / 1024);
    } else if (v.model == "cirrus") {
      if (!primary) return cfgErr("video type cirrus is only valid as primary video device");
      dev.str("driver", "cirrus-vga").str("id", alias);
    } else if (v.model == "vmvga") {
      if (!primary) return cfgErr("video type vmvga is only valid as primary video device");
      dev.str("driver", "vmware-svga").str("id", alias);
      if (v.vram) dev.num("vgamem_mb", kib(v.vram) / 1024);
    } else if (v.model == "qxl") {
      dev.str("driver", primary ? "qxl-vga" : "qxl").str("id", alias);
      if (v.heads) dev.num("max_outputs", *v.heads);
      dev.num("ram_size", kib(v.ram) * 1024).num("vram_size", kib(v.vram) * 1024)
          .num("vram64_size_mb", kib(v.vram64) / 1024).num("vgamem_mb", kib(v.vgamem) / 1024);
    } else if (v.model == "virtio") {
      dev.str("driver", primary ? "virtio-vga" : "virtio-gpu-pci").str("id", alias);
      if (v.heads) dev.num("max_outputs", *v.heads);
    } else if (v.model == "bochs") {
      dev.str("driver", "bochs-display").str("id", alias);
      if (v.vram) dev.num("vgamem", kib(v.vram) * 1024);
    } else if (v.model == "ramfb") {
      addDevice(JsonProps().str("driver", "ramfb").str("id", alias));
      continue;
    } else {
      return cfgErr("video type " + v.model + " is not supported with QEMU");
    }
    SV_TRY_VOID(addPciAddress(dev, v.info));
    addDevice(dev);
  }
  return {};
}

Result<void> Builder::buildMemballoon() {
  if (!def_.memballoon || def_.memballoon->model == "none") return {};
  const MemballoonDef& m = *def_.memballoon;
  if (m.model != "virtio") return cfgErr("Memory balloon device type '" + m.model + "' is not supported by this version of qemu");
  JsonProps dev;
  dev.str("driver", "virtio-balloon-pci").str("id", aliasOr(m.info, "balloon0"));
  if (m.autodeflate) dev.boolean("deflate-on-oom", *m.autodeflate);
  if (m.freePageReporting) dev.boolean("free-page-reporting", *m.freePageReporting);
  SV_TRY_VOID(addPciAddress(dev, m.info));
  addDevice(dev);
  return {};
}

}  // namespace splitvirt::qemu::cmd
