#pragma once

// Small helpers shared by mock_sys.cpp and mock_sys_files.cpp; nothing here is recorded.

#include <sys/stat.h>

#include <cerrno>
#include <filesystem>
#include <sstream>
#include <string>

namespace actorvol::test::mock_util {

/// `path` without "." and ".." parts or a trailing slash: the key of the mount table.
inline std::string norm(const std::string& path) {
  auto s = std::filesystem::path(path).lexically_normal().string();
  while (s.size() > 1 && s.back() == '/')
    s.pop_back();
  return s;
}

/// Whether `path` is `dir` or below it (both normalized).
inline bool at_or_under(const std::string& path, const std::string& dir) {
  return path == dir
         || (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0
             && (dir == "/" || path[dir.size()] == '/'));
}

inline std::string hex(unsigned long v) {
  std::ostringstream out;
  out << "0x" << std::hex << v;
  return out.str();
}

inline std::string octal(unsigned long v) {
  std::ostringstream out;
  out << "0" << std::oct << v;
  return out.str();
}

/// stat(2), or lstat(2) unless `follow`: 0 and the mode, or an errno.
inline int real_stat(const std::string& path, bool follow, mode_t& mode) {
  struct stat st {};
  if ((follow ? ::stat(path.c_str(), &st) : ::lstat(path.c_str(), &st)) != 0)
    return errno;
  mode = st.st_mode;
  return 0;
}

/// Whether `path` (followed) is a regular file.
inline bool is_regular(const std::string& path) {
  mode_t mode = 0;
  return real_stat(path, true, mode) == 0 && S_ISREG(mode);
}

} // namespace actorvol::test::mock_util
