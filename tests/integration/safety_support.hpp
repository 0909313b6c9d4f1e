#pragma once

// What the safety tests (safety_mount_it.cpp, safety_delete_it.cpp) share: answers' Err,
// /proc/self/mountinfo, a guard that detaches leftover mounts, host data to guard, and the
// quarantine.

#include "support/plugin.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace actorvol::test::safety {

std::string err_of(const response& r);

struct mount_entry {
  std::string point;    // unescaped
  std::string options;  // the per-mount options (field 6), e.g. "ro,nosuid,relatime"
};

std::vector<mount_entry> mountinfo();

// How many mounts sit exactly on `real_path` (stacked mounts count one each).
int mounts_on(const std::string& real_path);

// The options of the topmost mount on `real_path`, "" when nothing is mounted there.
std::string options_of(const std::string& real_path);

bool has_option(const std::string& options, const std::string& word);

// Detaches (lazily) every mount at or below each directory when the test ends, passed or
// failed: declare it after the temp dirs it guards, so it runs before they are deleted.
struct unmount_guard {
  std::vector<std::string> dirs;  // real paths
  ~unmount_guard();
};

std::string slurp(const std::filesystem::path& p);

// A host directory with a few files and a subdirectory, as a user's data would be.
void fill_host(const std::filesystem::path& host);

void expect_host_intact(const std::filesystem::path& host, const std::string& what);

// Every directory ROOT/quarantine/*/volumes/NAME.
std::vector<std::filesystem::path> quarantined(const std::string& root, const std::string& name);

// Get's Status.Mounts, -1 when Get fails.
int mounts_of(plugin& p, const std::string& name);

nlohmann::json bind_opts(const std::filesystem::path& host, const std::string& o = "bind");

} // namespace actorvol::test::safety
