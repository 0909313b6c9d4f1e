#pragma once

// The directory adaptor: a volume is a plain directory, ROOT/volumes/NAME/_data, with
// optional uid, gid and mode for it.

#include "adaptors/adaptor.hpp"
#include "adaptors/sys.hpp"

#include <filesystem>

namespace actorvol {

class dir_adaptor : public adaptor {
public:
  /// `volumes_dir` is the parent of every volume's directory (ROOT/volumes).
  explicit dir_adaptor(std::filesystem::path volumes_dir, SysPtr sys = real_sys());

  bool accepts(const volume_opts& opts) const override;
  caf::error validate(const volume_spec& v) const override;
  caf::error create(const volume_spec& v) override;
  caf::error remove(const volume_spec& v) override;
  caf::expected<std::string> mount(const volume_spec& v) override;
  caf::error unmount(const volume_spec& v) override;
  status_map status(const volume_spec& v) override;
  bool quick() const override {
    return true;  // mkdir, chown and a look at one directory
  }
  bool detaches() const override {
    return false;  // nothing was attached
  }
  std::vector<std::filesystem::path> data_paths(const std::string& name) const override;

  /// Where the data of volume `name` lives.
  std::filesystem::path data_dir(const std::string& name) const;

private:
  std::filesystem::path volumes_dir_;
  SysPtr sys_;
};

} // namespace actorvol
