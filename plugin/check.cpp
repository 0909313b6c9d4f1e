#include "plugin/check.hpp"

#include "actors/file_store.hpp"
#include "actors/journal_store.hpp"
#include "adaptors/catalog.hpp"
#include "adaptors/safe_fs.hpp"
#include "adaptors/sys.hpp"
#include "core/error.hpp"

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

namespace fs = std::filesystem;

namespace actorvol {

namespace {

// One thing the check found. A problem makes the root unclean until it is repaired.
struct finding {
  finding(std::string kind, std::string volume, std::string path, std::string detail,
          bool problem = true, std::string repair = {})
    : kind(std::move(kind)), volume(std::move(volume)), path(std::move(path)),
      detail(std::move(detail)), problem(problem), repair(std::move(repair)) {
  }
  std::string kind;    // e.g. "orphaned-data"
  std::string volume;  // the volume it concerns, if any
  std::string path;
  std::string detail;
  bool problem = true;
  bool repaired = false;
  std::string repair;  // what --repair did, or why it did not
};

struct quarantined {
  std::string path;
  uint64_t bytes = 0;
  std::string modified;  // RFC 3339, UTC
};

struct report {
  std::string root;
  std::vector<finding> findings;
  std::vector<quarantined> quarantine;
  size_t volumes = 0;
};

std::string utc(fs::file_time_type t) {
  auto sys = std::chrono::time_point_cast<std::chrono::seconds>(
    t - fs::file_time_type::clock::now() + std::chrono::system_clock::now());
  auto secs = std::chrono::system_clock::to_time_t(sys);
  char buf[32];
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

uint64_t bytes_under(const fs::path& p) {
  std::error_code ec;
  if (!fs::is_directory(fs::symlink_status(p, ec)))
    return fs::is_regular_file(fs::symlink_status(p, ec)) ? fs::file_size(p, ec) : 0;
  uint64_t n = 0;
  for (auto i = fs::recursive_directory_iterator(p, ec); !ec && i != fs::end(i); i.increment(ec))
    if (i->is_regular_file(ec) && !i->is_symlink(ec))
      n += i->file_size(ec);
  return n;
}

// The records, read without starting anything: the journal, or release 0.x's files. A root
// with neither is no actorvol root (or one whose state is lost): nothing in it can be judged
// orphaned, so the check stops there.
caf::expected<std::vector<loaded_record>> load(const fs::path& state) {
  std::error_code ec;
  if (fs::exists(state / journal_store::file_name, ec))
    return journal_store(state).load_all(1);
  if (fs::exists(state / ".journal.made", ec))
    return make_error(ec::state_unusable, "",
                      (state / journal_store::file_name).string()
                        + " is missing, yet a journal was made here before");
  if (fs::is_directory(state, ec)) {
    auto old = file_store(state).load_all(1);
    if (!old || !old->empty())
      return old;
  }
  return make_error(ec::state_unusable, "",
                    "no state journal in " + state.string()
                      + " (not an actorvol root, or its state is lost)");
}

// Loop devices whose backing file is in ROOT/volumes or ROOT/images (never quarantine's:
// that is kept as it is): device -> backing file. Read from sysfs, which changes under no
// listing (a losetup --list that races a device going away fails as a whole).
std::map<std::string, std::string> loops_under(const fs::path& root) {
  std::map<std::string, std::string> out;
  std::error_code ec;
  for (auto& entry : fs::directory_iterator("/sys/block", ec)) {
    auto name = entry.path().filename().string();
    if (name.rfind("loop", 0) != 0)
      continue;
    std::ifstream in(entry.path() / "loop" / "backing_file");
    std::string file;
    if (!std::getline(in, file))
      continue;  // not attached
    for (auto dir : {"volumes/", "images/"})
      if (file.rfind((root / dir).string(), 0) == 0)
        out["/dev/" + name] = file;
  }
  return out;
}

// Whether anything holds loop device `dev` (a device-mapper or md on top of it).
bool held(const std::string& dev) {
  std::error_code ec;
  auto holders = fs::path("/sys/block") / fs::path(dev).filename() / "holders";
  return fs::is_directory(holders, ec) && !fs::is_empty(holders, ec);
}

// The sources of every mount (to tell a loop device in use from a leaked one).
std::set<std::string> mount_sources() {
  std::set<std::string> out;
  std::ifstream in("/proc/self/mountinfo");
  for (std::string line; std::getline(in, line);) {
    auto dash = line.find(" - ");
    if (dash == std::string::npos)
      continue;
    std::istringstream rest(line.substr(dash + 3));
    std::string type, source;
    rest >> type >> source;
    out.insert(source);
  }
  return out;
}

// The volume a path below ROOT/volumes or ROOT/images belongs to.
std::string volume_of(const fs::path& root, const fs::path& p) {
  auto rel = p.lexically_relative(root);
  auto it = rel.begin();
  if (it == rel.end())
    return "";
  auto top = it->string();
  if (++it == rel.end())
    return "";
  auto name = it->string();
  if (top == "images" && fs::path(name).extension() == ".img")
    return fs::path(name).stem().string();
  return top == "volumes" ? name : "";
}

void check_root(const fs::path& root, const std::vector<loaded_record>& loaded, bool repair,
                report& out) {
  auto sys = real_sys();
  auto adaptors = default_catalog(root);
  std::map<std::string, const loaded_record*> by_name;
  for (auto& l : loaded)
    by_name[l.name] = &l;
  out.volumes = loaded.size();
  auto explained = [&](const std::string& name) {  // a recorded use (or unknown uses) keeps it
    auto i = by_name.find(name);
    return i != by_name.end() && (!i->second->record || i->second->record->total_uses() > 0);
  };

  // 1. Every record readable, every volume's data there.
  for (auto& l : loaded) {
    if (!l.record) {
      out.findings.push_back({"corrupt-record", l.name, "", l.problem, true,
                              "not repaired: its data is kept; `docker volume rm` moves it to "
                              "quarantine"});
      continue;
    }
    auto paths = adaptors->data_paths(l.name);
    if (!safe_fs::any_exists(paths))
      out.findings.push_back({"missing-data", l.name, paths.empty() ? "" : paths.front().string(),
                              "the record exists but the volume's data is gone", true,
                              "not repaired: nothing safe to do (Get reports the problem)"});
    if (l.record->total_uses() > 0)
      out.findings.push_back({"recorded-uses", l.name, "",
                              std::to_string(l.record->total_uses())
                                + " recorded use(s): re-attached when actorvol starts",
                              false});
  }

  // 2. Mounts under ROOT/volumes that no recorded use explains (the top of each tree).
  std::set<std::string> still_mounted;
  for (auto& [name, mp] : safe_fs::volume_mounts(*sys, root / "volumes")) {
    if (explained(name)) {
      still_mounted.insert(name);
      continue;
    }
    finding f{"stray-mount", name, mp,
              by_name.count(name) ? "mounted, but no use is recorded" : "no record names it"};
    if (repair) {
      int e = safe_fs::detach_stray(*sys, mp);
      f.repaired = e == 0;
      f.repair = e == 0 ? "detached" : "detach failed: " + os_reason(e);
    }
    if (!f.repaired)
      still_mounted.insert(name);
    out.findings.push_back(std::move(f));
  }

  // 3. Loop devices on images below ROOT that nothing mounts.
  std::error_code ec;
  auto sources = mount_sources();
  if (!fs::is_directory("/sys/block", ec))
    out.findings.push_back({"loop-devices-unchecked", "", "",
                            "/sys/block cannot be read: loop devices were not checked", false});
  for (auto& [dev, file] : loops_under(root)) {
    if (sources.count(dev) > 0 || held(dev))
      continue;  // mounted here, or something is built on it
    finding f{"leaked-loop-device", volume_of(root, file), dev,
              "attached to " + file + " but mounted nowhere"};
    if (repair) {
      std::string text;
      int code = sys->run({"losetup", "--detach", dev}, text);
      // A device still open elsewhere (another mount namespace, a process) only gets
      // autoclear: it stays until that lets go, and is no repair.
      bool gone = loops_under(root).count(dev) == 0;
      f.repaired = code == 0 && gone;
      f.repair = code != 0 ? "losetup --detach failed: " + text
                 : gone    ? "released"
                           : "still open elsewhere: released once that closes it (autoclear)";
    }
    out.findings.push_back(std::move(f));
  }

  // 4. Data and images no record names.
  for (auto dir : {root / "volumes", root / "images"}) {
    if (!fs::is_directory(dir, ec))
      continue;
    for (auto& entry : fs::directory_iterator(dir, ec)) {
      auto name = volume_of(root, entry.path());
      if (name.empty() || by_name.count(name) > 0)
        continue;
      finding f{"orphaned-data", name, entry.path().string(), "no record names this volume"};
      if (repair && still_mounted.count(name) == 0) {
        int err = 0;
        auto where = safe_fs::quarantine(*sys, root, {entry.path()}, err);
        f.repaired = err == 0;
        f.repair = err == 0 ? "moved to " + where : "quarantine failed: " + os_reason(err);
      } else if (repair) {
        f.repair = "not moved: still mounted";
      }
      out.findings.push_back(std::move(f));
    }
  }

  // 5. What quarantine holds (kept until the operator deletes it).
  auto q = root / "quarantine";
  if (fs::is_directory(q, ec))
    for (auto& entry : fs::directory_iterator(q, ec))
      out.quarantine.push_back(
        {entry.path().string(), bytes_under(entry.path()), utc(entry.last_write_time(ec))});
}

void print_text(const report& r, bool repair) {
  std::cout << "root " << r.root << ": " << r.volumes << " volume(s)\n";
  size_t open = 0;
  for (auto& f : r.findings) {
    std::cout << (f.problem ? (f.repaired ? "repaired " : "problem  ") : "info     ") << f.kind;
    if (!f.volume.empty())
      std::cout << " volume=" << f.volume;
    if (!f.path.empty())
      std::cout << " path=" << f.path;
    std::cout << ": " << f.detail;
    if (!f.repair.empty())
      std::cout << " [" << f.repair << "]";
    std::cout << "\n";
    open += f.problem && !f.repaired;
  }
  for (auto& q : r.quarantine)
    std::cout << "quarantine " << q.path << " " << q.bytes << " bytes, since " << q.modified
              << "\n";
  if (open == 0)
    std::cout << "clean\n";
  else
    std::cout << open << " problem(s)" << (repair ? " remain" : "; --repair fixes what is safe")
              << "\n";
}

void print_json(const report& r) {
  nlohmann::json j;
  j["root"] = r.root;
  j["volumes"] = r.volumes;
  j["findings"] = nlohmann::json::array();
  bool clean = true;
  for (auto& f : r.findings) {
    j["findings"].push_back({{"kind", f.kind},
                             {"volume", f.volume},
                             {"path", f.path},
                             {"detail", f.detail},
                             {"problem", f.problem},
                             {"repaired", f.repaired},
                             {"repair", f.repair}});
    clean = clean && !(f.problem && !f.repaired);
  }
  j["quarantine"] = nlohmann::json::array();
  for (auto& q : r.quarantine)
    j["quarantine"].push_back({{"path", q.path}, {"bytes", q.bytes}, {"modified", q.modified}});
  j["clean"] = clean;
  std::cout << j.dump(2) << "\n";
}

int could_not(const std::string& why, bool json) {
  if (json)
    std::cout << nlohmann::json{{"error", why}}.dump() << "\n";
  std::cerr << "actorvol check: could not check: " << why << "\n";
  return check_failed;
}

} // namespace

int run_check(const std::vector<std::string>& args) {
  std::string root_arg;
  bool repair = false;
  bool json = false;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--repair")
      repair = true;
    else if (args[i] == "--json")
      json = true;
    else if (args[i] == "--root" && i + 1 < args.size())
      root_arg = args[++i];
    else if (args[i].rfind("--root=", 0) == 0)
      root_arg = args[i].substr(7);
    else
      return could_not("unknown argument " + args[i]
                         + " (usage: actorvol check --root DIR [--repair] [--json])",
                       json);
  }
  if (root_arg.empty())
    return could_not("--root DIR is required", json);
  std::error_code ec;
  auto root = fs::canonical(root_arg, ec);
  if (ec || !fs::is_directory(root, ec))
    return could_not(root_arg + " is not a directory", json);
  // Offline only: a running actorvol holds this lock, and its root changes under a check.
  auto state = root / "state";
  if (!fs::is_directory(state, ec))
    return could_not("no state directory " + state.string()
                       + " (not an actorvol root, or its state is lost)",
                     json);
  int lock = -1;
  {
    lock = ::open((state / ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (lock < 0)
      return could_not("cannot open " + (state / ".lock").string() + ": " + os_reason(errno),
                       json);
    if (::flock(lock, LOCK_EX | LOCK_NB) != 0) {
      ::close(lock);
      return could_not("actorvol is running on " + root.string() + " (stop it first)", json);
    }
  }
  auto loaded = load(state);
  if (!loaded) {
    if (lock >= 0)
      ::close(lock);
    return could_not("the state cannot be read: " + render(loaded.error()), json);
  }
  report r;
  r.root = root.string();
  check_root(root, *loaded, repair, r);
  if (lock >= 0)
    ::close(lock);
  if (json)
    print_json(r);
  else
    print_text(r, repair);
  for (auto& f : r.findings)
    if (f.problem && !f.repaired)
      return check_problems;
  return check_clean;
}

} // namespace actorvol
