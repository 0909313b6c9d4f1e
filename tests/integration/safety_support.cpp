#include "integration/safety_support.hpp"

#include <gtest/gtest.h>

#include <sys/mount.h>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace actorvol::test::safety {

std::string err_of(const response& r) {
  if (r.status == 0)
    return "<no answer>";
  auto j = r.json();
  return j.is_object() ? j.value("Err", "<no Err>") : "<bad json: " + r.body + ">";
}

namespace {

std::string unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 3), nullptr, 8));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

} // namespace

std::vector<mount_entry> mountinfo() {
  std::vector<mount_entry> out;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, point, options;
    fields >> id >> parent >> dev >> root >> point >> options;
    out.push_back({unescape(point), options});
  }
  return out;
}

int mounts_on(const std::string& real_path) {
  int n = 0;
  for (auto& m : mountinfo())
    n += m.point == real_path;
  return n;
}

std::string options_of(const std::string& real_path) {
  std::string opts;
  for (auto& m : mountinfo())
    if (m.point == real_path)
      opts = m.options;
  return opts;
}

bool has_option(const std::string& options, const std::string& word) {
  return ("," + options + ",").find("," + word + ",") != std::string::npos;
}

unmount_guard::~unmount_guard() {
  for (int round = 0; round < 64; ++round) {
    std::vector<std::string> found;
    for (auto& m : mountinfo())
      for (auto& d : dirs)
        if (m.point == d || m.point.rfind(d + "/", 0) == 0)
          found.push_back(m.point);
    if (found.empty())
      return;
    std::stable_sort(found.begin(), found.end(),
                     [](auto& a, auto& b) { return a.size() > b.size(); });
    for (auto& p : found)
      ::umount2(p.c_str(), MNT_DETACH);
  }
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void fill_host(const fs::path& host) {
  fs::create_directories(host / "sub");
  std::ofstream(host / "a.txt") << "alpha";
  std::ofstream(host / "b.txt") << "beta";
  std::ofstream(host / "sub" / "c.txt") << "gamma";
}

void expect_host_intact(const fs::path& host, const std::string& what) {
  EXPECT_EQ(slurp(host / "a.txt"), "alpha") << what;
  EXPECT_EQ(slurp(host / "b.txt"), "beta") << what;
  EXPECT_EQ(slurp(host / "sub" / "c.txt"), "gamma") << what;
}

std::vector<fs::path> quarantined(const std::string& root, const std::string& name) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (auto it = fs::directory_iterator(fs::path(root) / "quarantine", ec);
       !ec && it != fs::directory_iterator(); it.increment(ec)) {
    auto p = it->path() / "volumes" / name;
    if (fs::exists(fs::symlink_status(p)))
      out.push_back(p);
  }
  return out;
}

int mounts_of(plugin& p, const std::string& name) {
  auto get = p.call("/VolumeDriver.Get", {{"Name", name}}).json();
  if (!get.is_object() || !get.contains("Volume") || !get["Volume"]["Status"].is_object())
    return -1;
  return get["Volume"]["Status"].value("Mounts", -1);
}

json bind_opts(const fs::path& host, const std::string& o) {
  return {{"type", "none"}, {"o", o}, {"device", host.string()}};
}

} // namespace actorvol::test::safety
