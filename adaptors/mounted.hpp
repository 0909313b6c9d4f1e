#pragma once

// Adaptors whose volumes are real mounts on ROOT/volumes/NAME/_data:
//  - tmpfs_adaptor:       type=tmpfs [device=tmpfs] [o=size=64m,...] [size=N]: a tmpfs,
//                         mounted on first use (its data lives only while mounted, as with
//                         Docker's local driver);
//  - loop_adaptor:        size=N[K|M|G|T] [fs=ext4|xfs]: an image file,
//                         ROOT/volumes/NAME/disk.img, formatted once and loop-mounted;
//                         writes past N fail with ENOSPC;
//  - passthrough_adaptor: type=T device=D o=O: mount(D, _data, T, O), like the local driver
//                         (e.g. type=none o=bind device=/srv/x; a bind honours ro, nosuid,
//                         ... through a remount, as mount(8) does).
// tmpfs and loop also take uid, gid and mode for the volume's top directory (a pass-through
// volume's top directory is the mounted filesystem's own: refused there). Detaching always
// takes off every stacked mount and verifies it; deleting never crosses a mount.

#include "adaptors/adaptor.hpp"
#include "adaptors/sys.hpp"

#include <filesystem>

namespace actorvol {

class mounted_adaptor : public adaptor {
public:
  mounted_adaptor(std::filesystem::path root, SysPtr sys);

  caf::error create(const volume_spec& v) override;
  caf::error remove(const volume_spec& v) override;
  caf::expected<std::string> mount(const volume_spec& v) override;
  caf::error unmount(const volume_spec& v) override;
  status_map status(const volume_spec& v) override;
  std::vector<std::filesystem::path> data_paths(const std::string& name) const override;

protected:
  /// Makes the backing store (beyond the mountpoint directory).
  virtual caf::error make_store(const volume_spec&) {
    return caf::none;
  }
  /// Deletes what the backing store keeps outside ROOT/volumes/NAME.
  virtual caf::error delete_store(const volume_spec&) {
    return caf::none;
  }
  /// Mounts the backing store on `target`.
  virtual caf::error attach(const volume_spec& v, const std::string& target) = 0;
  /// The backend's name for Status.
  virtual const char* backend() const = 0;
  /// Whether uid, gid and mode are applied to the mounted top directory (a record written
  /// before they were refused for a backend never makes them apply again).
  virtual bool sets_ownership() const {
    return true;
  }

  std::filesystem::path target_of(const std::string& name) const;
  std::filesystem::path volume_dir(const std::string& name) const;

  std::filesystem::path root_;
  SysPtr sys_;
};

class tmpfs_adaptor : public mounted_adaptor {
public:
  using mounted_adaptor::mounted_adaptor;
  bool accepts(const volume_opts& opts) const override;
  caf::error validate(const volume_spec& v) const override;
  bool data_lost_on_detach() const override {
    return true;
  }

protected:
  caf::error attach(const volume_spec& v, const std::string& target) override;
  const char* backend() const override {
    return "tmpfs";
  }
};

class loop_adaptor : public mounted_adaptor {
public:
  using mounted_adaptor::mounted_adaptor;
  bool accepts(const volume_opts& opts) const override;
  caf::error validate(const volume_spec& v) const override;

  /// The image of volume `name`: ROOT/volumes/NAME/disk.img, or for a volume made by
  /// release 0.1, ROOT/images/NAME.img when that file exists.
  std::filesystem::path image_of(const std::string& name) const;
  std::vector<std::filesystem::path> data_paths(const std::string& name) const override;

protected:
  caf::error make_store(const volume_spec& v) override;
  caf::error delete_store(const volume_spec& v) override;
  caf::error attach(const volume_spec& v, const std::string& target) override;
  const char* backend() const override {
    return "loop";
  }
};

class passthrough_adaptor : public mounted_adaptor {
public:
  /// `host_root`: where the host's / is seen (a managed plugin runs in its own rootfs);
  /// an absolute device= path is resolved below it. Empty: device paths are used as given.
  passthrough_adaptor(std::filesystem::path root, SysPtr sys,
                      std::filesystem::path host_root = {});
  bool accepts(const volume_opts& opts) const override;
  caf::error validate(const volume_spec& v) const override;

protected:
  caf::error attach(const volume_spec& v, const std::string& target) override;
  const char* backend() const override {
    return "passthrough";
  }
  bool sets_ownership() const override {
    return false;  // the mounted filesystem's own top directory
  }

private:
  /// Opens the volume's device inside the host root when there is one (never leaving it,
  /// "..", symlinks and all): an O_PATH descriptor in `fd`, -1 when the device is used as
  /// given (no host root, not a path, or a cifs/smb3 share //server/share). Returns 0 or an
  /// errno.
  int open_device(const volume_spec& v, int& fd) const;
  /// Mounts (or binds) `source` on `target` with the volume's type and o=. Returns 0 or an
  /// errno.
  int mount_device(const volume_spec& v, const std::string& source, const std::string& target);

  std::filesystem::path host_root_;
};

} // namespace actorvol
