#include "adaptors/mounted.hpp"

#include "adaptors/options.hpp"
#include "core/failpoint.hpp"

#include <sys/mount.h>

#include <cerrno>

namespace fs = std::filesystem;

namespace actorvol {

namespace {

caf::error failed(const volume_spec& v, const std::string& what, int err) {
  return make_error(ec::backend_failed, v.name, what + " failed: " + os_reason(err));
}

caf::error bad_size(const volume_spec& v) {
  return make_error(ec::bad_option, v.name,
                    "size=" + options::value(v, "size")
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
  auto target = target_of(v.name).string();
  if (int e = sys_->make_dirs(target))
    return failed(v, "create of " + target, e);
  if (auto e = make_store(v)) {
    sys_->remove_tree(volume_dir(v.name).string());
    return e;
  }
  return caf::none;
}

caf::error mounted_adaptor::remove(const volume_spec& v) {
  auto target = target_of(v.name).string();
  auto dir = volume_dir(v.name).string();
  if (int e = detach_all(*sys_, target))
    return failed(v, "unmount of " + target, e);
  // Never delete through a mount (a bind of host data): refuse before touching anything.
  if (auto m = sys_->mounts_under(dir); !m.empty())
    return failed(v, "remove of " + dir + " (" + m.front() + " is still mounted)", EBUSY);
  if (auto e = delete_store(v))
    return e;
  if (int e = sys_->remove_tree(dir))
    return failed(v, "remove of " + dir, e);
  return caf::none;
}

caf::expected<std::string> mounted_adaptor::mount(const volume_spec& v) {
  auto target = target_of(v.name).string();
  // Made again if gone (after a reboot of a tmpfs-backed root), never through a symlink:
  // mount(2) follows symlinks on the way to its target, and would mount where one points.
  int made = sys_->make_dirs(target);
  file_kind kind{};
  if (int e = sys_->kind_of(target, false, kind))
    return failed(v, "mount on " + target, made != 0 ? made : e);
  if (made != 0 || kind != file_kind::directory)
    return failed(v, "mount on " + target + " (a symlink or file is in the way)",
                  made != 0 ? made : ENOTDIR);
  if (!sys_->is_mountpoint(target)) {
    if (auto e = attach(v, target))
      return e;
    if (!sys_->is_mountpoint(target))
      return failed(v, "mount on " + target + " (nothing is mounted there after it)", EIO);
    if (auto e = sets_ownership() ? options::apply_ownership(*sys_, v, target) : caf::none) {
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
  if (v.opts.count("size") && options::parse_size(options::value(v, "size")) == 0)
    return bad_size(v);
  if (options::parse_mount_options(options::value(v, "o")).bind())
    return make_error(ec::bad_option, v.name,
                      "o=" + options::value(v, "o") + ": a tmpfs cannot be a bind (use type=none o=bind)");
  return options::check_ownership(v);
}

caf::error tmpfs_adaptor::attach(const volume_spec& v, const std::string& target) {
  auto o = options::parse_mount_options(options::value(v, "o"));
  if (v.opts.count("size"))
    o.data += (o.data.empty() ? "" : ",") + std::string{"size="} + options::value(v, "size");
  // The local driver's form names the source `device=tmpfs`; it is only a label.
  auto source = options::value(v, "device").empty() ? std::string{"tmpfs"} : options::value(v, "device");
  if (int e = sys_->mount(source, target, "tmpfs", o.flags, o.data))
    return failed(v, "mount of tmpfs on " + target + (o.data.empty() ? "" : " with " + o.data), e);
  return set_propagation(*sys_, v, target, o);
}

// -- loop (size=) -------------------------------------------------------------------------

bool loop_adaptor::accepts(const volume_opts& opts) const {
  return opts.count("size") == 1 && opts.count("type") == 0;
}

caf::error loop_adaptor::validate(const volume_spec& v) const {
  if (auto e = options::only(v, {"size", "fs", "uid", "gid", "mode"}))
    return e;
  auto size = options::parse_size(options::value(v, "size"));
  if (size == 0)
    return bad_size(v);
  auto fstype = options::value(v, "fs");
  if (!fstype.empty() && fstype != "ext4" && fstype != "xfs")
    return make_error(ec::bad_option, v.name, "fs=" + fstype + ": must be ext4 or xfs");
  if (size < (fstype == "xfs" ? 300ull << 20 : 1ull << 20))
    return make_error(ec::bad_option, v.name,
                      "size=" + options::value(v, "size") + ": too small for "
                        + (fstype.empty() ? "ext4" : fstype));
  return options::check_ownership(v);
}

// Release 0.1 kept images at ROOT/images/NAME.img, which cannot hold names over 251 bytes.
static fs::path legacy_image(const fs::path& root, const std::string& name) {
  return root / "images" / (name + ".img");
}

fs::path loop_adaptor::image_of(const std::string& name) const {
  file_kind kind{};
  if (name.size() <= 251 && sys_->kind_of(legacy_image(root_, name).string(), true, kind) == 0)
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
  auto size = options::parse_size(options::value(v, "size"));
  if (uint64_t free = 0; sys_->free_space(volume_dir(v.name).string(), free) == 0 && size > free)
    return make_error(ec::bad_option, v.name,
                      "size=" + options::value(v, "size") + ": exceeds the free space of "
                        + root_.string() + " (" + std::to_string(free >> 20) + " MiB)");
  int fd = -1;
  if (int e = sys_->open_new(image, 0600, fd))
    return failed(v, "create of " + image, e);
  int rc = sys_->ftruncate(fd, size);
  sys_->close(fd);
  if (rc)
    return failed(v, "sizing of " + image, rc);  // create() deletes the image again
  auto fstype = options::value(v, "fs").empty() ? std::string{"ext4"} : options::value(v, "fs");
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
  auto legacy = legacy_image(root_, v.name).string();
  if (v.name.size() <= 251)
    if (int e = sys_->unlink(legacy); e != 0 && e != ENOENT)
      return failed(v, "remove of " + legacy, e);
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
                      "size=" + options::value(v, "size") + ": only for type=tmpfs, or without type= (a "
                        "loop volume); use the filesystem's own option in o= otherwise");
  if (auto e = options::only(v, {"type", "device", "o", "uid", "gid", "mode"}))
    return e;
  if (options::value(v, "type").empty() || options::value(v, "device").empty())
    return make_error(ec::bad_option, v.name,
                      "type and device: both are needed to mount a device");
  // The top directory of a pass-through volume is the mounted filesystem's own (the bound
  // host directory, the export, the device's root): uid, gid and mode would change it for
  // good, for every other user of it (the local driver has no such options either).
  for (auto key : {"uid", "gid", "mode"})
    if (v.opts.count(key))
      return make_error(ec::bad_option, v.name,
                        std::string{key} + "=" + options::value(v, key)
                          + ": not with type=/device= (it would change the mounted "
                            "filesystem's own top directory); only for tmpfs and size= volumes");
  auto o = options::parse_mount_options(options::value(v, "o"));
  if (o.bind() && options::value(v, "device")[0] != '/')
    return make_error(ec::bad_option, v.name,
                      "device=" + options::value(v, "device") + ": a bind needs an absolute path");
  // A restricted bind leaves the source's peer group (see sys_calls::bind): it cannot be
  // a peer (shared) or a slave of it.
  if (o.bind() && (o.propagation & (MS_SLAVE | MS_SHARED)) != 0
      && (o.flags & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)) != 0)
    return make_error(ec::bad_option, v.name,
                      "o=" + options::value(v, "o")
                        + ": a bind with ro, nosuid, nodev or noexec cannot be shared or a "
                          "slave (what the host mounts below it later would come in without "
                          "them)");
  return caf::none;
}

int passthrough_adaptor::open_device(const volume_spec& v, int& fd) const {
  fd = -1;
  auto device = options::value(v, "device");
  auto type = options::value(v, "type");
  bool share = device.rfind("//", 0) == 0 && !options::parse_mount_options(options::value(v, "o")).bind()
               && (type == "cifs" || type == "smb3");
  if (host_root_.empty() || device.empty() || device[0] != '/' || share)
    return 0;  // not a path (tmpfs, host:/export, a cifs //server/share) or no host root
  return sys_->open_in_root(host_root_.string(), device, fd);
}

caf::error passthrough_adaptor::attach(const volume_spec& v, const std::string& target) {
  auto what = "mount of " + options::value(v, "device") + " on " + target;
  // A device path in the host root is opened once; the mount names that descriptor, so a
  // path changed in between (a symlink swapped in) cannot redirect it out of the host root.
  int fd = -1;
  if (int e = open_device(v, fd))
    return failed(v, what, e);
  auto source = fd < 0 ? options::value(v, "device") : "/proc/self/fd/" + std::to_string(fd);
  auto fault = failpoint::hit("passthrough.device");
  int e = fault.empty() ? mount_device(v, source, target) : EIO;
  if (fd >= 0)
    sys_->close(fd);
  if (!fault.empty())
    return make_error(ec::backend_failed, v.name, what + " failed: " + fault);
  auto o = options::parse_mount_options(options::value(v, "o"));
  if (e == EOPNOTSUPP && o.bind() && (o.flags & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)))
    what += " (a bind with ro, nosuid, nodev or noexec needs mount_setattr: Linux 5.12 or "
            "later)";
  if (e)
    return failed(v, what, e);
  return set_propagation(*sys_, v, target, o);
}

int passthrough_adaptor::mount_device(const volume_spec& v, const std::string& source,
                                      const std::string& target) {
  auto o = options::parse_mount_options(options::value(v, "o"));
  auto type = options::value(v, "type");
  if (!o.bind())
    return sys_->mount(source, target, type == "none" ? "" : type, o.flags, o.data);
  // The kernel ignores ro, nosuid, ... on a bind call: like mount(8) and the local driver,
  // the bind gets the flags of a remount with them (this also makes a bind out of the
  // read-only host root writable unless `ro` was asked for). They are set before the bind
  // is attached, so that the copy propagated to the host (the managed plugin's propagated
  // mount, which Docker hands to containers) has them too: `ro` is read-only there.
  return sys_->bind(source, target, o.flags & ~MS_BIND);
}

} // namespace actorvol
