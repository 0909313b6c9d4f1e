#include "actors/file_store.hpp"

#include "adaptors/safe_fs.hpp"
#include "core/error.hpp"
#include "core/failpoint.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;

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

} // namespace

file_store::file_store(fs::path state_dir) : dir_(std::move(state_dir)) {
}

caf::error file_store::init() {
  std::error_code err;
  fs::create_directories(dir_ / temp_dir_name, err);
  if (err)
    return make_error(ec::state_write_failed, "",
                      "cannot create " + dir_.string() + ": " + os_reason(err.value()));
  return caf::none;
}

caf::error file_store::write(const volume_record& r, const volume_record* previous) {
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

caf::error file_store::erase(const std::string& name) {
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

int file_store::sync_dir() {
  if (!failpoint::hit("state.sync_dir").empty())
    return EIO;
  return safe_fs::sync_dir(dir_);
}

caf::error file_store::roll_back(const std::string& name,
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

caf::error file_store::load_each(size_t part, const take_fn& take, unsigned threads) {
  part = std::max<size_t>(part, 1);
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
    if (file[0] == '.')
      continue;  // no record (names never start with '.'): another store's files
    files.push_back(it->path());
  }
  std::vector<loaded_record> out(files.size());
  std::vector<std::string> texts(files.size());
  for (size_t i = 0; i < files.size(); ++i) {
    out[i].name = files[i].filename().string();
    std::ifstream in(files[i], std::ios::binary);
    if (!in.is_open()) {
      out[i].problem = "cannot read state record: " + os_reason(errno);
      continue;
    }
    std::stringstream buf;
    buf << in.rdbuf();
    texts[i] = buf.str();
  }
  decode_all(out, {texts.begin(), texts.end()}, threads);
  for (size_t i = 0; i < out.size(); i += part) {
    auto end = out.begin() + static_cast<ptrdiff_t>(std::min(out.size(), i + part));
    take({std::make_move_iterator(out.begin() + static_cast<ptrdiff_t>(i)),
          std::make_move_iterator(end)});
  }
  return caf::none;
}

} // namespace actorvol
