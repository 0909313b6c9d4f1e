#pragma once

// Adaptors whose volumes are real mounts on ROOT/volumes/NAME/_data:
//  - tmpfs_adaptor:       type=tmpfs [o=size=64m,...] [size=N]: a tmpfs, mounted on first use
//                         (its data lives only while mounted, as with Docker's local driver);
//  - loop_adaptor:        size=N[K|M|G|T] [fs=ext4|xfs]: an image file under ROOT/images,
//                         formatted once and loop-mounted; writes past N fail with ENOSPC;
//  - passthrough_adaptor: type=T device=D o=O: mount(D, _data, T, O), like the local driver
//                         (e.g. type=none o=bind device=/srv/x).
// All three also take uid, gid and mode for the volume's top directory.

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

protected:
  /// Makes the backing store (beyond the mountpoint directory).
  virtual caf::error make_store(const volume_spec&) {
    return caf::none;
  }
  /// Deletes the backing store.
  virtual void delete_store(const volume_spec&) {
  }
  /// Mounts the backing store on `target`.
  virtual caf::error attach(const volume_spec& v, const std::string& target) = 0;
  /// The backend's name for Status.
  virtual const char* backend() const = 0;

  std::filesystem::path target_of(const std::string& name) const;

  std::filesystem::path root_;
  SysPtr sys_;
};

class tmpfs_adaptor : public mounted_adaptor {
public:
  using mounted_adaptor::mounted_adaptor;
  bool accepts(const volume_opts& opts) const override;
  caf::error validate(const volume_spec& v) const override;

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

  std::filesystem::path image_of(const std::string& name) const;

protected:
  caf::error make_store(const volume_spec& v) override;
  void delete_store(const volume_spec& v) override;
  caf::error attach(const volume_spec& v, const std::string& target) override;
  const char* backend() const override {
    return "loop";
  }
};

class passthrough_adaptor : public mounted_adaptor {
public:
  using mounted_adaptor::mounted_adaptor;
  bool accepts(const volume_opts& opts) const override;
  caf::error validate(const volume_spec& v) const override;

protected:
  caf::error attach(const volume_spec& v, const std::string& target) override;
  const char* backend() const override {
    return "passthrough";
  }
};

} // namespace actorvol
