#include "adaptors/mounted.hpp"

#include "adaptors/options.hpp"
#include "adaptors/safe_fs.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
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

caf::error bad_size(const volume_spec& v) {
  return make_error(ec::bad_option, v.name,
                    "size=" + opt(v, "size")
                      + ": must be N, NK, NM, NG or NT (at most 8388607T)");
}

// Sets the propagation asked for in `o=` (shared, slave, private, ...) on a new mount; on
// failure the mount is taken off again.
caf::error set_propagation(sys_calls& sys, const volume_spec& v, const std::string& target,
                           const options::mount_options& o) {
  if (o.propagation == 0)
    return caf::none;
  if (int e = sys.mount("", target, "", o.propagation, "")) {
    detach_all(sys, target);
    return failed(v, "propagation change of " + target, e);
  }
  return caf::none;
}

// The last line of a helper's output, without trailing blanks.
std::string trimmed(std::string out, int code) {
  while (!out.empty() && (out.back() == '\n' || out.back() == ' '))
    out.pop_back();
  return out.empty() ? "exit " + std::to_string(code) : out;
}

} // namespace

// -- the common part --------------------------------------------------------------------

mounted_adaptor::mounted_adaptor(fs::path root, SysPtr sys)
  : root_(std::move(root)), sys_(std::move(sys)) {
}

fs::path mounted_adaptor::volume_dir(const std::string& name) const {
  return root_ / "volumes" / name;
}

fs::path mounted_adaptor::target_of(const std::string& name) const {
  return volume_dir(name) / "_data";
}

std::vector<fs::path> mounted_adaptor::data_paths(const std::string& name) const {
  return {volume_dir(name)};
}

caf::error mounted_adaptor::create(const volume_spec& v) {
  if (int e = safe_fs::make_dirs(target_of(v.name)))
    return failed(v, "create of " + target_of(v.name).string(), e);
  if (auto e = make_store(v)) {
    safe_fs::remove_tree(volume_dir(v.name));
    return e;
  }
  return caf::none;
}

caf::error mounted_adaptor::remove(const volume_spec& v) {
  auto target = target_of(v.name).string();
  if (int e = detach_all(*sys_, target))
    return failed(v, "unmount of " + target, e);
  // Never delete through a mount (a bind of host data): refuse before touching anything.
  if (auto m = sys_->mounts_under(volume_dir(v.name).string()); !m.empty())
    return failed(v, "remove of " + volume_dir(v.name).string() + " (" + m.front()
                       + " is still mounted)",
                  EBUSY);
  if (auto e = delete_store(v))
    return e;
  if (int e = safe_fs::remove_tree(volume_dir(v.name)))
    return failed(v, "remove of " + volume_dir(v.name).string(), e);
  return caf::none;
}

caf::expected<std::string> mounted_adaptor::mount(const volume_spec& v) {
  auto target = target_of(v.name).string();
  // Made again if gone (after a reboot of a tmpfs-backed root). mount(2) follows symlinks on
  // the way to its target: never mount where a symlink under ROOT points.
  if (int e = safe_fs::make_dirs(target))
    return failed(v, "mount on " + target
                       + (e == ENOTDIR ? " (a symlink or file is in the way)" : ""), e);
  if (!sys_->is_mountpoint(target)) {
    if (auto e = attach(v, target))
      return e;
    if (!sys_->is_mountpoint(target))
      return failed(v, "mount on " + target + " (nothing is mounted there after it)", EIO);
    if (auto e = options::apply_ownership(v, target)) {
      detach_all(*sys_, target);
      return e;
    }
  }
  return target;
}

caf::error mounted_adaptor::unmount(const volume_spec& v) {
  auto target = target_of(v.name).string();
  if (int e = detach_all(*sys_, target))
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
  if (auto e = options::only(v, {"type", "device", "o", "size", "uid", "gid", "mode"}))
    return e;
  if (v.opts.count("size") && options::parse_size(opt(v, "size")) == 0)
    return bad_size(v);
  if (options::parse_mount_options(opt(v, "o")).bind())
    return make_error(ec::bad_option, v.name,
                      "o=" + opt(v, "o") + ": a tmpfs cannot be a bind (use type=none o=bind)");
  return options::check_ownership(v);
}

caf::error tmpfs_adaptor::attach(const volume_spec& v, const std::string& target) {
  auto o = options::parse_mount_options(opt(v, "o"));
  if (v.opts.count("size"))
    o.data += (o.data.empty() ? "" : ",") + std::string{"size="} + opt(v, "size");
  // The local driver's form names the source `device=tmpfs`; it is only a label.
  auto source = opt(v, "device").empty() ? std::string{"tmpfs"} : opt(v, "device");
  if (int e = sys_->mount(source, target, "tmpfs", o.flags, o.data))
    return failed(v, "mount of tmpfs on " + target, e);
  return set_propagation(*sys_, v, target, o);
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
    return bad_size(v);
  auto fstype = opt(v, "fs");
  if (!fstype.empty() && fstype != "ext4" && fstype != "xfs")
    return make_error(ec::bad_option, v.name, "fs=" + fstype + ": must be ext4 or xfs");
  if (size < (fstype == "xfs" ? 300ull << 20 : 1ull << 20))
    return make_error(ec::bad_option, v.name,
                      "size=" + opt(v, "size") + ": too small for "
                        + (fstype.empty() ? "ext4" : fstype));
  return options::check_ownership(v);
}

// Release 0.1 kept images at ROOT/images/NAME.img, which cannot hold names over 251 bytes.
static fs::path legacy_image(const fs::path& root, const std::string& name) {
  return root / "images" / (name + ".img");
}

fs::path loop_adaptor::image_of(const std::string& name) const {
  std::error_code err;
  if (name.size() <= 251 && fs::exists(legacy_image(root_, name), err))
    return legacy_image(root_, name);
  return volume_dir(name) / "disk.img";
}

std::vector<fs::path> loop_adaptor::data_paths(const std::string& name) const {
  auto paths = mounted_adaptor::data_paths(name);
  if (name.size() <= 251)
    paths.push_back(legacy_image(root_, name));
  return paths;
}

caf::error loop_adaptor::make_store(const volume_spec& v) {
  auto image = (volume_dir(v.name) / "disk.img").string();
  auto size = options::parse_size(opt(v, "size"));
  struct statvfs fsinfo {};
  if (::statvfs(volume_dir(v.name).c_str(), &fsinfo) == 0) {
    auto free = static_cast<uint64_t>(fsinfo.f_bavail) * fsinfo.f_frsize;
    if (size > free)
      return make_error(ec::bad_option, v.name,
                        "size=" + opt(v, "size") + ": exceeds the free space of "
                          + root_.string() + " (" + std::to_string(free >> 20) + " MiB)");
  }
  int fd = ::open(image.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    return failed(v, "create of " + image, errno);
  int rc = ::ftruncate(fd, static_cast<off_t>(size)) == 0 ? 0 : errno;
  ::close(fd);
  if (rc)
    return failed(v, "sizing of " + image, rc);
  auto fstype = opt(v, "fs").empty() ? std::string{"ext4"} : opt(v, "fs");
  std::string out;
  std::vector<std::string> mkfs{"mkfs." + fstype, "-q"};
  if (fstype == "ext4")
    mkfs.insert(mkfs.end(), {"-F", "-m", "0"});
  mkfs.push_back(image);
  if (int code = sys_->run(mkfs, out); code != 0)
    return make_error(ec::backend_failed, v.name,
                      "mkfs." + fstype + " failed: " + trimmed(out, code));
  return caf::none;
}

caf::error loop_adaptor::delete_store(const volume_spec& v) {
  auto legacy = legacy_image(root_, v.name);
  if (v.name.size() <= 251 && ::unlink(legacy.c_str()) != 0 && errno != ENOENT)
    return failed(v, "remove of " + legacy.string(), errno);
  return caf::none;
}

caf::error loop_adaptor::attach(const volume_spec& v, const std::string& target) {
  // mount(8) finds a free loop device and frees it again on unmount (autoclear).
  std::string out;
  auto image = image_of(v.name).string();
  if (int code = sys_->run({"mount", "-o", "loop", "--", image, target}, out); code != 0)
    return make_error(ec::backend_failed, v.name,
                      "mount of " + image + " failed: " + trimmed(out, code));
  return caf::none;
}

// -- passthrough (type/device/o, like the local driver) -----------------------------------

passthrough_adaptor::passthrough_adaptor(fs::path root, SysPtr sys, fs::path host_root)
  : mounted_adaptor(std::move(root), std::move(sys)), host_root_(std::move(host_root)) {
}

bool passthrough_adaptor::accepts(const volume_opts& opts) const {
  // With size= too, so that validate() says why size= does not go with type=.
  return opts.count("type") == 1 || opts.count("device") == 1 || opts.count("o") == 1;
}

caf::error passthrough_adaptor::validate(const volume_spec& v) const {
  if (v.opts.count("size"))
    return make_error(ec::bad_option, v.name,
                      "size=" + opt(v, "size") + ": only for type=tmpfs, or without type= (a "
                        "loop volume); use the filesystem's own option in o= otherwise");
  if (auto e = options::only(v, {"type", "device", "o", "uid", "gid", "mode"}))
    return e;
  if (opt(v, "type").empty() || opt(v, "device").empty())
    return make_error(ec::bad_option, v.name,
                      "type and device: both are needed to mount a device");
  if (options::parse_mount_options(opt(v, "o")).bind()) {
    // A bind's top directory is the user's own directory: uid, gid and mode would change it
    // for good (the local driver has no such options either).
    for (auto key : {"uid", "gid", "mode"})
      if (v.opts.count(key))
        return make_error(ec::bad_option, v.name,
                          std::string{key} + "=" + opt(v, key)
                            + ": not with o=bind (it would change the bound directory itself)");
    if (opt(v, "device")[0] != '/')
      return make_error(ec::bad_option, v.name,
                        "device=" + opt(v, "device") + ": a bind needs an absolute path");
  }
  return options::check_ownership(v);
}

int passthrough_adaptor::device_path(const std::string& device, std::string& path) const {
  path = device;
  if (host_root_.empty() || device.empty() || device[0] != '/')
    return 0;  // not a path (tmpfs, host:/export, ...) or no host root to resolve in
  return safe_fs::resolve_in_root(host_root_, device, path);
}

caf::error passthrough_adaptor::attach(const volume_spec& v, const std::string& target) {
  auto o = options::parse_mount_options(opt(v, "o"));
  auto type = opt(v, "type");
  auto what = "mount of " + opt(v, "device") + " on " + target;
  std::string device;
  if (int e = device_path(opt(v, "device"), device))
    return failed(v, what, e);
  if (!o.bind()) {
    if (int e = sys_->mount(device, target, type == "none" ? "" : type, o.flags, o.data))
      return failed(v, what, e);
  } else {
    // The kernel ignores ro, nosuid, ... on a bind call: like mount(8) and the local driver,
    // the bind gets the flags of a remount with them (this also makes a bind out of the
    // read-only host root writable unless `ro` was asked for). They are set before the bind
    // is attached, so that the copy propagated to the host (the managed plugin's propagated
    // mount, which Docker hands to containers) has them too: `ro` is read-only there.
    if (int e = sys_->bind(device, target, o.flags & ~MS_BIND))
      return failed(v, what, e);
  }
  return set_propagation(*sys_, v, target, o);
}

} // namespace actorvol
