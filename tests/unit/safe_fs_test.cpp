// safe_fs's directory walk: a directory is opened (and made) without following a symlink
// anywhere on its path, whether the kernel resolves the path in one call or it is walked.

#include "adaptors/safe_fs.hpp"

#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <unistd.h>

using namespace actorvol;
namespace fs = std::filesystem;

namespace {

// open_dir's errno (0: opened).
int open_error(const fs::path& p) {
  int fd = safe_fs::open_dir(p);
  if (fd < 0)
    return errno;
  ::close(fd);
  return 0;
}

} // namespace

TEST(SafeFs, MakesWhatIsMissingAndOpensWhatExists) {
  test::temp_dir tmp;
  EXPECT_EQ(open_error(tmp / "a/b/c"), ENOENT);
  EXPECT_EQ(safe_fs::make_dirs(tmp / "a/b/c"), 0);
  EXPECT_TRUE(fs::is_directory(tmp / "a/b/c"));
  EXPECT_EQ(safe_fs::make_dirs(tmp / "a/b/c"), 0) << "made again: nothing to do";
  EXPECT_EQ(open_error(tmp / "a/b/c"), 0);
  EXPECT_EQ(open_error(tmp / "a/../a"), EINVAL);
}

TEST(SafeFs, NeverFollowsASymlink) {
  test::temp_dir tmp;
  fs::create_directories(tmp / "real/inner");
  fs::create_directory_symlink(tmp / "real", tmp / "link");
  EXPECT_EQ(open_error(tmp / "link"), ENOTDIR) << "as the last component";
  EXPECT_EQ(open_error(tmp / "link/inner"), ENOTDIR) << "in the middle";
  EXPECT_EQ(safe_fs::make_dirs(tmp / "link/new"), ENOTDIR);
  EXPECT_FALSE(fs::exists(tmp / "real/new")) << "nothing made through the symlink";
  std::ofstream(tmp / "file") << "x";
  EXPECT_EQ(safe_fs::make_dirs(tmp / "file/sub"), ENOTDIR);
}
