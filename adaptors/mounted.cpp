#include "adaptors/mounted.hpp"

#include "adaptors/options.hpp"

#include <fcntl.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace actorvol {

namespace {

std::string opt(const volume_spec& v, const std::string& key) {
  auto i = v.opts.find(key);
  return i == v.opts.end() ? std::string{} : i->second;
}

caf::error failed(const volume_spec& v, const std::string& what, int err) {
  return make_error(ec::backend_failed, v.name, what + " failed: " + os_reason(err));
}

} // namespace

// -- the common part --------------------------------------------------------------------

mounted_adaptor::mounted_adaptor(fs::path root, SysPtr sys)
  : root_(std::move(root)), sys_(std::move(sys)) {
}

fs::path mounted_adaptor::target_of(const std::string& name) const {
  return root_ / "volumes" / name / "_data";
}

caf::error mounted_adaptor::create(const volume_spec& v) {
  std::error_code err;
  fs::create_directories(target_of(v.name), err);
  if (err)
    return failed(v, "create of " + target_of(v.name).string(), err.value());
  if (auto e = make_store(v)) {
    fs::remove_all(root_ / "volumes" / v.name, err);
    return e;
  }
  return caf::none;
}

caf::error mounted_adaptor::remove(const volume_spec& v) {
  auto target = target_of(v.name).string();
  if (sys_->is_mountpoint(target))
    if (int e = sys_->unmount(target))
      return failed(v, "unmount of " + target, e);
  if (sys_->is_mountpoint(target))  // never delete through a mount (a bind of host data)
    return failed(v, "unmount of " + target, EBUSY);
  delete_store(v);
  std::error_code err;
  fs::remove_all(root_ / "volumes" / v.name, err);
  if (err)
    return failed(v, "remove of " + (root_ / "volumes" / v.name).string(), err.value());
  return caf::none;
}

caf::expected<std::string> mounted_adaptor::mount(const volume_spec& v) {
  auto target = target_of(v.name).string();
  std::error_code err;
  fs::create_directories(target, err);  // gone after a reboot of a tmpfs-backed root
  if (!sys_->is_mountpoint(target)) {
    if (auto e = attach(v, target))
      return e;
    if (auto e = options::apply_ownership(v, target)) {
      sys_->unmount(target);
      return e;
    }
  }
  return target;
}

caf::error mounted_adaptor::unmount(const volume_spec& v) {
  auto target = target_of(v.name).string();
  if (!sys_->is_mountpoint(target))
    return caf::none;
  if (int e = sys_->unmount(target))
    return failed(v, "unmount of " + target, e);
  return caf::none;
}

status_map mounted_adaptor::status(const volume_spec& v) {
  return {{"Backend", backend()},
          {"Attached", sys_->is_mountpoint(target_of(v.name).string()) ? "true" : "false"}};
}

// -- tmpfs ------------------------------------------------------------------------------

bool tmpfs_adaptor::accepts(const volume_opts& opts) const {
  auto i = opts.find("type");
  return i != opts.end() && i->second == "tmpfs";
}

caf::error tmpfs_adaptor::validate(const volume_spec& v) const {
  if (auto e = options::only(v, {"type", "o", "size", "uid", "gid", "mode"}))
    return e;
  if (v.opts.count("size") && options::parse_size(opt(v, "size")) == 0)
    return make_error(ec::bad_option, v.name,
                      "size=" + opt(v, "size") + ": must be N, NK, NM, NG or NT");
  return options::check_ownership(v);
}

caf::error tmpfs_adaptor::attach(const volume_spec& v, const std::string& target) {
  auto o = options::parse_mount_options(opt(v, "o"));
  if (v.opts.count("size"))
    o.data += (o.data.empty() ? "" : ",") + std::string{"size="} + opt(v, "size");
  if (int e = sys_->mount("tmpfs", target, "tmpfs", o.flags, o.data))
    return failed(v, "mount of tmpfs on " + target, e);
  return caf::none;
}

// -- loop (size=) -------------------------------------------------------------------------

bool loop_adaptor::accepts(const volume_opts& opts) const {
  return opts.count("size") == 1 && opts.count("type") == 0;
}

caf::error loop_adaptor::validate(const volume_spec& v) const {
  if (auto e = options::only(v, {"size", "fs", "uid", "gid", "mode"}))
    return e;
  auto size = options::parse_size(opt(v, "size"));
  if (size == 0)
    return make_error(ec::bad_option, v.name,
                      "size=" + opt(v, "size") + ": must be N, NK, NM, NG or NT");
  auto fstype = opt(v, "fs");
  if (!fstype.empty() && fstype != "ext4" && fstype != "xfs")
    return make_error(ec::bad_option, v.name, "fs=" + fstype + ": must be ext4 or xfs");
  if (size < (fstype == "xfs" ? 300ull << 20 : 1ull << 20))
    return make_error(ec::bad_option, v.name,
                      "size=" + opt(v, "size") + ": too small for "
                        + (fstype.empty() ? "ext4" : fstype));
  return options::check_ownership(v);
}

fs::path loop_adaptor::image_of(const std::string& name) const {
  return root_ / "images" / (name + ".img");
}

caf::error loop_adaptor::make_store(const volume_spec& v) {
  std::error_code err;
  fs::create_directories(root_ / "images", err);
  auto image = image_of(v.name).string();
  int fd = ::open(image.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return failed(v, "create of " + image, errno);
  auto size = static_cast<off_t>(options::parse_size(opt(v, "size")));
  int rc = ::ftruncate(fd, size) == 0 ? 0 : errno;
  ::close(fd);
  if (rc) {
    fs::remove(image, err);
    return failed(v, "sizing of " + image, rc);
  }
  auto fstype = opt(v, "fs").empty() ? std::string{"ext4"} : opt(v, "fs");
  std::string out;
  std::vector<std::string> mkfs{"mkfs." + fstype, "-q"};
  if (fstype == "ext4")
    mkfs.insert(mkfs.end(), {"-F", "-m", "0"});
  mkfs.push_back(image);
  if (int code = sys_->run(mkfs, out); code != 0) {
    fs::remove(image, err);
    return make_error(ec::backend_failed, v.name,
                      "mkfs." + fstype + " failed: " + (out.empty() ? "exit " + std::to_string(code) : out));
  }
  return caf::none;
}

void loop_adaptor::delete_store(const volume_spec& v) {
  std::error_code err;
  fs::remove(image_of(v.name), err);
}

caf::error loop_adaptor::attach(const volume_spec& v, const std::string& target) {
  // mount(8) finds a free loop device and frees it again on unmount (autoclear).
  std::string out;
  auto image = image_of(v.name).string();
  if (int code = sys_->run({"mount", "-o", "loop", image, target}, out); code != 0) {
    while (!out.empty() && (out.back() == '\n' || out.back() == ' '))
      out.pop_back();
    return make_error(ec::backend_failed, v.name,
                      "mount of " + image + " failed: " + (out.empty() ? "exit " + std::to_string(code) : out));
  }
  return caf::none;
}

// -- passthrough (type/device/o, like the local driver) -----------------------------------

bool passthrough_adaptor::accepts(const volume_opts& opts) const {
  return opts.count("size") == 0
         && (opts.count("type") == 1 || opts.count("device") == 1 || opts.count("o") == 1);
}

caf::error passthrough_adaptor::validate(const volume_spec& v) const {
  if (auto e = options::only(v, {"type", "device", "o", "uid", "gid", "mode"}))
    return e;
  if (opt(v, "type").empty() || opt(v, "device").empty())
    return make_error(ec::bad_option, v.name,
                      "type and device: both are needed to mount a device");
  return options::check_ownership(v);
}

caf::error passthrough_adaptor::attach(const volume_spec& v, const std::string& target) {
  auto o = options::parse_mount_options(opt(v, "o"));
  auto type = opt(v, "type");
  if (int e = sys_->mount(opt(v, "device"), target, type == "none" ? "" : type, o.flags, o.data))
    return failed(v, "mount of " + opt(v, "device") + " on " + target, e);
  return caf::none;
}

} // namespace actorvol
