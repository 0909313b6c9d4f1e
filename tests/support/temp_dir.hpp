#pragma once

// A directory under /tmp that is removed with everything in it when the test ends.

#include <cstdlib>
#include <filesystem>
#include <string>

namespace actorvol::test {

class temp_dir {
public:
  temp_dir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "actorvol-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~temp_dir() {
    std::error_code ignore;
    std::filesystem::remove_all(path_, ignore);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  const std::filesystem::path& path() const {
    return path_;
  }

  std::filesystem::path operator/(const std::string& rel) const {
    return path_ / rel;
  }

private:
  std::filesystem::path path_;
};

} // namespace actorvol::test
