#include "adaptors/dir.hpp"

#include "adaptors/options.hpp"

#include <cerrno>

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
  if (int e = sys_->make_dirs(dir.string()))
    return make_error(ec::backend_failed, v.name,
                      "create of " + dir.string() + " failed: " + os_reason(e));
  if (auto e = options::apply_ownership(*sys_, v, dir)) {
    sys_->remove_tree((volumes_dir_ / v.name).string());
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
  if (int e = sys_->remove_tree(dir.string()))
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
  if (int e = sys_->check_dir(dir.string()))
    return make_error(ec::backend_failed, v.name,
                      "mount of " + dir.string() + " failed: " + os_reason(e)
                        + (e == ENOTDIR ? " (a symlink or file is in the way)" : ""));
  return dir.string();
}

caf::error dir_adaptor::unmount(const volume_spec&) {
  return caf::none;
}

status_map dir_adaptor::status(const volume_spec& v) {
  status_map result{{"Backend", "dir"}};
  auto dir = data_dir(v.name);
  if (sys_->check_dir(dir.string()) != 0)
    result["Problem"] = "data directory " + dir.string() + " is missing";
  return result;
}

} // namespace actorvol
