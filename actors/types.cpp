#include "actors/types.hpp"

#include <cstdio>

namespace actorvol {

bool valid_volume_name(const std::string& name) {
  if (name.empty() || name.size() > 255)
    return false;
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (!alnum(name[0]))
    return false;
  for (char c : name)
    if (!alnum(c) && c != '_' && c != '.' && c != '-')
      return false;
  return true;
}

std::string printable(const std::string& name) {
  std::string out;
  for (unsigned char c : name) {
    if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

} // namespace actorvol
