#include "adaptors/catalog.hpp"

#include "adaptors/dir.hpp"
#include "adaptors/mounted.hpp"
#include "adaptors/sshfs.hpp"
#include "adaptors/sys.hpp"

namespace actorvol {

CatalogPtr default_catalog(const std::filesystem::path& root,
                           const std::filesystem::path& host_root,
                           const std::filesystem::path& secrets) {
  auto c = std::make_shared<catalog>();
  auto sys = real_sys();
  c->add(std::make_shared<dir_adaptor>(root / "volumes", sys));  // the default
  c->add(std::make_shared<tmpfs_adaptor>(root, sys));
  c->add(std::make_shared<loop_adaptor>(root, sys));
  c->add(std::make_shared<sshfs_adaptor>(  // before the pass-through, which takes any type=
    root, sys, secret_store{secrets.empty() ? root / "secrets" : secrets}));
  c->add(std::make_shared<passthrough_adaptor>(root, sys, host_root));
  return c;
}

} // namespace actorvol
