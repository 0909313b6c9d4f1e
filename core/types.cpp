#include "core/types.hpp"

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

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> items;
  size_t pos = 0;
  while (pos <= text.size()) {
    auto end = text.find(sep, pos);
    if (end == std::string::npos)
      end = text.size();
    if (end > pos)
      items.push_back(text.substr(pos, end - pos));
    pos = end + 1;
  }
  return items;
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
