#include "adaptors/dir.hpp"

#include "adaptors/options.hpp"
#include "adaptors/safe_fs.hpp"

#include <unistd.h>

#include <system_error>

namespace fs = std::filesystem;

namespace actorvol {

dir_adaptor::dir_adaptor(fs::path volumes_dir, SysPtr sys)
  : volumes_dir_(std::move(volumes_dir)), sys_(std::move(sys)) {
}

fs::path dir_adaptor::data_dir(const std::string& name) const {
  return volumes_dir_ / name / "_data";
}

bool dir_adaptor::accepts(const volume_opts& opts) const {
  for (auto& [key, value] : opts)
    if (key != "uid" && key != "gid" && key != "mode")
      return false;
  return true;
}

caf::error dir_adaptor::validate(const volume_spec& v) const {
  if (auto err = options::only(v, {"uid", "gid", "mode"}))
    return err;
  return options::check_ownership(v);
}

caf::error dir_adaptor::create(const volume_spec& v) {
  auto dir = data_dir(v.name);
  // Data left by an earlier crash was moved to quarantine by the VOLUME before this call.
  if (int e = safe_fs::make_dirs(dir))
    return make_error(ec::backend_failed, v.name,
                      "create of " + dir.string() + " failed: " + os_reason(e));
  if (auto e = options::apply_ownership(v, dir)) {
    safe_fs::remove_tree(volumes_dir_ / v.name);
    return e;
  }
  return caf::none;
}

caf::error dir_adaptor::remove(const volume_spec& v) {
  auto dir = volumes_dir_ / v.name;
  // Something mounted inside (a bind by hand, a container's mount that leaked) is the
  // user's: refuse before deleting anything.
  if (auto m = sys_->mounts_under(dir.string()); !m.empty())
    return make_error(ec::backend_failed, v.name,
                      "remove of " + dir.string() + " failed: " + m.front()
                        + " is still mounted: " + os_reason(EBUSY));
  if (int e = safe_fs::remove_tree(dir))
    return make_error(ec::backend_failed, v.name,
                      "remove of " + dir.string() + " failed: " + os_reason(e));
  return caf::none;
}

std::vector<fs::path> dir_adaptor::data_paths(const std::string& name) const {
  return {volumes_dir_ / name};
}

caf::expected<std::string> dir_adaptor::mount(const volume_spec& v) {
  auto dir = data_dir(v.name);
  // Docker binds this path into the container: never one reached through a symlink.
  int fd = safe_fs::open_dir(dir);
  if (fd < 0)
    return make_error(ec::backend_failed, v.name,
                      "mount of " + dir.string() + " failed: " + os_reason(errno)
                        + (errno == ENOTDIR ? " (a symlink or file is in the way)" : ""));
  ::close(fd);
  return dir.string();
}

caf::error dir_adaptor::unmount(const volume_spec&) {
  return caf::none;
}

status_map dir_adaptor::status(const volume_spec& v) {
  status_map result{{"Backend", "dir"}};
  std::error_code err;
  auto dir = data_dir(v.name);
  if (fs::symlink_status(dir, err).type() != fs::file_type::directory)
    result["Problem"] = "data directory " + dir.string() + " is missing";
  return result;
}

} // namespace actorvol
