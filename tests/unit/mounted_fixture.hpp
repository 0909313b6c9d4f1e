// The fixture of the mounting adaptors' unit tests (mounted_adaptor_test.cpp,
// passthrough_adaptor_test.cpp): each adaptor on a temp dir, its system calls mocked.

#pragma once

#include "adaptors/mounted.hpp"

#include "support/mock_sys.hpp"

#include <gtest/gtest.h>

#include <sys/mount.h>
#include <sys/stat.h>

#include <fstream>
#include <iostream>
#include <sstream>

namespace actorvol::test {

namespace fs = std::filesystem;

// The error text of `err`, "" when there is none.
inline std::string text(const caf::error& err) {
  return err ? render(err) : "";
}

inline std::string text(const caf::expected<std::string>& mp) {
  return mp ? "" : render(mp.error());
}

inline std::string hex(unsigned long v) {
  std::ostringstream out;
  out << "0x" << std::hex << v;
  return out.str();
}

class MountedAdaptor : public ::testing::Test {
protected:
  void SetUp() override {
    fs::create_directories(root / "host/srv/data");  // a bind's source, below host_root
    sys->set_free_space(1ull << 40);                 // whatever /tmp has: room for any image
  }
  void TearDown() override {
    if (HasFailure())
      std::cerr << "the calls made:\n" << sys->trace();
  }

  // The runs of a helper program, e.g. "mkfs.ext4".
  std::vector<test::mock_sys::call> runs_of(const std::string& program) const {
    std::vector<test::mock_sys::call> out;
    for (auto& c : sys->calls_of("run"))
      if (!c.args.empty() && c.args[0] == program)
        out.push_back(c);
    return out;
  }

  // Every attempt to attach something: mount(2), bind, or the mount helper.
  size_t attaches() const {
    return sys->count("mount") + sys->count("bind") + runs_of("mount").size();
  }

  std::shared_ptr<test::mock_sys> sys = std::make_shared<test::mock_sys>();
  fs::path root = sys->root();
  tmpfs_adaptor tmpfs{root, sys};
  loop_adaptor loop{root, sys};
  passthrough_adaptor pass{root, sys};
  passthrough_adaptor hosted{root, sys, root / "host"};  // device=/srv/x is ROOT/host/srv/x
  fs::path vol = root / "volumes/db";
  std::string target = (vol / "_data").string();
  std::string image = (vol / "disk.img").string();
};

} // namespace actorvol::test
