#include "core/log.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>

#include <unistd.h>

namespace actorvol::log {

namespace {

std::atomic<level> threshold{level::info};

const char* name_of(level lvl) {
  switch (lvl) {
    case level::debug:
      return "debug";
    case level::info:
      return "info";
    case level::warn:
      return "warn";
    case level::error:
      return "error";
  }
  return "info";
}

void append_value(std::string& out, const std::string& v) {
  bool plain = !v.empty();
  for (unsigned char c : v)
    if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c >= 0x7f)
      plain = false;
  if (plain) {
    out += v;
    return;
  }
  out += '"';
  for (unsigned char c : v) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < ' ' || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
}

} // namespace

std::optional<level> parse_level(const std::string& text) {
  for (auto lvl : {level::debug, level::info, level::warn, level::error})
    if (text == name_of(lvl))
      return lvl;
  return std::nullopt;
}

void set_level(level lvl) {
  threshold.store(lvl, std::memory_order_relaxed);
}

bool enabled(level lvl) {
  return lvl >= threshold.load(std::memory_order_relaxed);
}

void write(level lvl, const fields& kv) {
  if (!enabled(lvl))
    return;
  auto now = std::chrono::system_clock::now();
  auto t = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char ts[64];
  std::snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms.count()));
  std::string line = "ts=";
  line += ts;
  line += " level=";
  line += name_of(lvl);
  for (auto& [k, v] : kv) {
    line += ' ';
    line += k;
    line += '=';
    append_value(line, v);
  }
  line += '\n';
  // One write(2) per line keeps lines whole when several threads log, without a lock.
  auto rc = ::write(STDERR_FILENO, line.data(), line.size());
  (void) rc;
}

} // namespace actorvol::log
