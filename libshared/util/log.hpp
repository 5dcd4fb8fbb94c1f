// Minimal leveled logging: stderr, a file, or journald (libvirt's
// log_level / log_outputs semantics: 1 debug, 2 info, 3 warning, 4 error).
#pragma once

#include <string>

namespace splitvirt::log {

enum class Level { Debug = 1, Info = 2, Warning = 3, Error = 4 };

// outputs: libvirt syntax, e.g. "3:stderr 1:file:/x.log"; empty = stderr
// (or journald when `journal` is true).
void configure(int level, const std::string& outputs, bool journal, const std::string& ident);
bool enabled(Level l);
void write(Level l, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

#define SV_LOG_AT(lvl, ...)                                                    \
  do {                                                                         \
    if (::splitvirt::log::enabled(lvl)) ::splitvirt::log::write(lvl, __VA_ARGS__); \
  } while (0)

template <class... A> inline void debug(const char* f, A... a) { SV_LOG_AT(Level::Debug, f, a...); }
template <class... A> inline void info(const char* f, A... a) { SV_LOG_AT(Level::Info, f, a...); }
template <class... A> inline void warn(const char* f, A... a) { SV_LOG_AT(Level::Warning, f, a...); }
template <class... A> inline void error(const char* f, A... a) { SV_LOG_AT(Level::Error, f, a...); }

}  // namespace splitvirt::log
