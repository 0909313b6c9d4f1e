#include "actors/store.hpp"

#include "core/error.hpp"
#include "core/failpoint.hpp"
#include "adaptors/safe_fs.hpp"

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <thread>

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace actorvol {

namespace {

// ROOT/state/NAME holds the record; a write goes to ROOT/state/.tmp/NAME first. Names are
// at most 255 bytes and never start with '.', so neither collides with the other.
constexpr const char* temp_dir_name = ".tmp";

// Writes all of `data` to a new file at `path` and fsyncs it. Returns errno or 0.
int write_synced(const fs::path& path, const std::string& data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return errno;
  size_t done = 0;
  while (done < data.size()) {
    auto n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      int e = errno;
      ::close(fd);
      return e;
    }
    done += static_cast<size_t>(n);
  }
  int rc = ::fsync(fd) == 0 ? 0 : errno;
  if (::close(fd) != 0 && rc == 0)
    rc = errno;
  return rc;
}

caf::error injected(const std::string& name) {
  auto fault = failpoint::hit("state.write");
  if (!fault.empty())
    return make_error(ec::state_write_failed, name, fault);
  return caf::none;
}

} // namespace

state_store::state_store(fs::path state_dir) : dir_(std::move(state_dir)) {
}

caf::error state_store::init() {
  std::error_code err;
  fs::create_directories(dir_ / temp_dir_name, err);
  if (err)
    return make_error(ec::state_write_failed, "",
                      "cannot create " + dir_.string() + ": " + os_reason(err.value()));
  return caf::none;
}

std::string state_store::encode(const volume_record& r) {
  json j;
  j["version"] = 1;
  j["name"] = r.name;
  j["opts"] = r.opts;
  j["created_at"] = r.created_at;
  j["uses"] = r.uses;
  j["used_since"] = r.used_since;
  return j.dump();
}

std::string state_store::parse(const std::string& name, const std::string& text,
                               volume_record& r) {
  auto j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return "not a JSON object";
  try {
    r.name = j.at("name").get<std::string>();
    r.opts = j.at("opts").get<volume_opts>();
    r.created_at = j.at("created_at").get<std::string>();
    r.uses = j.at("uses").get<mount_uses>();
    if (j.contains("used_since"))
      r.used_since = j.at("used_since").get<std::map<std::string, int64_t>>();
  } catch (const json::exception& e) {
    return e.what();
  }
  if (r.name != name)
    return "it names volume \"" + printable(r.name) + "\"";
  for (auto& [id, count] : r.uses)
    if (count == 0)
      return "mount id \"" + printable(id) + "\" has a zero count";
  return "";
}

caf::expected<volume_record> state_store::decode(const std::string& name,
                                                 const std::string& text) {
  volume_record r;
  auto why = parse(name, text, r);
  if (!why.empty())
    return make_error(ec::backend_failed, name, "corrupt state record: " + why);
  return r;
}

caf::error state_store::write(const volume_record& r, const volume_record* previous) {
  if (auto err = injected(r.name))
    return err;
  auto tmp = dir_ / temp_dir_name / r.name;
  auto dst = dir_ / r.name;
  if (int e = write_synced(tmp, encode(r))) {
    std::error_code ignore;
    fs::remove(tmp, ignore);
    return make_error(ec::state_write_failed, r.name, os_reason(e));
  }
  if (::rename(tmp.c_str(), dst.c_str()) != 0) {
    int e = errno;
    std::error_code ignore;
    fs::remove(tmp, ignore);
    return make_error(ec::state_write_failed, r.name, os_reason(e));
  }
  // The new record is in place but not yet durable: the answer must match what a crash
  // would leave, so a failed sync puts the previous record back.
  if (int e = sync_dir())
    return roll_back(r.name, previous ? std::optional{encode(*previous)} : std::nullopt, e);
  return caf::none;
}

caf::error state_store::erase(const std::string& name) {
  if (auto err = injected(name))
    return err;
  auto dst = dir_ / name;
  // Kept byte for byte, so that a failed sync puts back exactly what was there (an
  // unreadable record stays unreadable, and its volume listed).
  std::optional<std::string> before;
  if (std::ifstream in{dst, std::ios::binary}; in.is_open()) {
    std::stringstream buf;
    buf << in.rdbuf();
    before = buf.str();
  }
  if (::unlink(dst.c_str()) != 0) {
    if (errno != ENOENT)
      return make_error(ec::state_write_failed, name, os_reason(errno));
    before.reset();
  }
  if (int e = sync_dir())
    return roll_back(name, before, e);
  return caf::none;
}

int state_store::sync_dir() {
  if (!failpoint::hit("state.sync_dir").empty())
    return EIO;
  return safe_fs::sync_dir(dir_);
}

caf::error state_store::roll_back(const std::string& name,
                                  const std::optional<std::string>& previous, int why) {
  auto failed = make_error(ec::state_write_failed, name, "directory sync: " + os_reason(why));
  auto dst = dir_ / name;
  int e = 0;
  if (!previous) {
    if (::unlink(dst.c_str()) != 0 && errno != ENOENT)
      e = errno;
  } else {
    auto tmp = dir_ / temp_dir_name / name;
    e = write_synced(tmp, *previous);
    if (e == 0 && ::rename(tmp.c_str(), dst.c_str()) != 0)
      e = errno;
  }
  if (e == 0)
    e = sync_dir();
  if (e == 0)
    return failed;
  return make_error(ec::state_write_failed, name,
                    "directory sync: " + os_reason(why) + "; rollback failed: " + os_reason(e)
                      + " (the record on disk may not match)");
}

std::vector<loaded_record> state_store::load_all(unsigned threads) {
  std::vector<fs::path> files;
  std::error_code err;
  for (auto it = fs::directory_iterator(dir_, err); !err && it != fs::directory_iterator();
       it.increment(err)) {
    auto file = it->path().filename().string();
    if (file == temp_dir_name) {
      // Torn writes: the records they were replacing are still intact.
      std::error_code ignore;
      for (auto& torn : fs::directory_iterator(it->path(), ignore))
        fs::remove(torn.path(), ignore);
      continue;
    }
    files.push_back(it->path());
  }
  std::vector<loaded_record> out(files.size());
  auto read_range = [&](size_t begin, size_t end) {
    for (auto i = begin; i < end; ++i) {
      auto name = files[i].filename().string();
      std::ifstream in(files[i], std::ios::binary);
      std::stringstream buf;
      if (in.is_open())
        buf << in.rdbuf();
      out[i].name = name;
      volume_record r;
      if (!in.is_open())
        out[i].problem = "cannot read state record: " + os_reason(errno);
      else if (auto why = parse(name, buf.str(), r); !why.empty())
        out[i].problem = "corrupt state record: " + why;
      else
        out[i].record = std::move(r);
    }
  };
  threads = std::max(1u, std::min<unsigned>(threads, files.size() / 1000 + 1));
  std::vector<std::thread> pool;
  auto per = (files.size() + threads - 1) / threads;
  for (unsigned t = 0; t < threads; ++t) {
    auto begin = std::min(files.size(), t * per);
    auto end = std::min(files.size(), begin + per);
    pool.emplace_back(read_range, begin, end);
  }
  for (auto& t : pool)
    t.join();
  return out;
}

} // namespace actorvol
