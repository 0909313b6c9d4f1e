#include "actors/journal_store.hpp"

#include "core/metrics.hpp"

#include "adaptors/safe_fs.hpp"
#include "core/error.hpp"
#include "core/failpoint.hpp"
#include "core/log.hpp"

#include <sqlite3.h>

#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string_view>

namespace fs = std::filesystem;

namespace actorvol {

namespace {

// At most this many changes in one transaction; more wait for the next one.
constexpr size_t max_batch = 4096;

// Where release 0.x's files go once the journal holds them durably.
constexpr const char* v1_dir = ".v1";

// Made once the journal's table is committed: from then on, a missing or empty journal is a
// loss to report, not a fresh root.
constexpr const char* made_marker = ".journal.made";

// All of a file's bytes, never through a symlink. Returns errno or 0.
int read_file(const fs::path& path, std::string& out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return errno;
  char buf[8192];
  for (;;) {
    auto n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      int e = n < 0 ? errno : 0;
      ::close(fd);
      return e;
    }
    out.append(buf, static_cast<size_t>(n));
  }
}

// Moves `from` to `dir`/`name`, or `name`.1, .2, ... when that is taken: nothing kept there
// before is ever replaced. Returns errno or 0.
int move_aside(const fs::path& from, const fs::path& dir, const std::string& name) {
  for (int n = 0; n < 1000; ++n) {
    auto to = dir / (n == 0 ? name : name + "." + std::to_string(n));
    if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0)
      return 0;
    if (errno != EEXIST)
      return errno;
  }
  return EEXIST;
}

// SQLite's message, with the OS reason behind it when there is one.
std::string reason(sqlite3* db) {
  if (db == nullptr)
    return "out of memory";
  std::string why = sqlite3_errmsg(db);
  if (int e = sqlite3_system_errno(db); e != 0)
    why += " (" + os_reason(e) + ")";
  return why;
}

} // namespace

journal_store::journal_store(fs::path state_dir) : dir_(std::move(state_dir)) {
}

journal_store::~journal_store() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (committer_.joinable())
    committer_.join();
  sqlite3_finalize(put_);
  sqlite3_finalize(del_);
  sqlite3_finalize(get_);
  sqlite3_close_v2(db_);
  if (lock_fd_ >= 0)
    ::close(lock_fd_);  // releases the flock
}

std::string journal_store::exec(const char* sql) {
  char* msg = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &msg) == SQLITE_OK)
    return "";
  std::string why = msg != nullptr ? msg : reason(db_);
  sqlite3_free(msg);
  return why;
}

caf::error journal_store::init() {
  if (auto why = open(); !why.empty())
    return make_error(ec::state_unusable, "", (dir_ / file_name).string() + ": " + why);
  if (auto why = migrate(); !why.empty())
    return make_error(ec::state_unusable, "", "migration of " + dir_.string() + ": " + why);
  committer_ = std::thread([this] { run(); });
  return caf::none;
}

std::string journal_store::open() {
  std::error_code err;
  bool made = fs::create_directories(dir_, err);
  if (err)
    return "cannot create " + dir_.string() + ": " + os_reason(err.value());
  if (made)
    safe_fs::sync_dir(dir_.parent_path());  // the new directory itself is durable
  auto lock_path = dir_ / ".lock";
  lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (lock_fd_ < 0)
    return "cannot open " + lock_path.string() + ": " + os_reason(errno);
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0)
    return errno == EWOULDBLOCK
             ? "in use: another process (another actorvol on this --root?) holds "
                 + lock_path.string()
             : "cannot lock " + lock_path.string() + ": " + os_reason(errno);
  // SQLite makes a new, empty database where the file is missing or empty (and drops a
  // -wal beside it): where a journal was made before, that would lose every volume.
  auto path = dir_ / file_name;
  struct stat st {};
  bool present = ::stat(path.c_str(), &st) == 0 && st.st_size > 0;
  if (!present && fs::exists(dir_ / made_marker, err))
    return "missing or empty, yet " + (dir_ / made_marker).string()
           + " shows one was made here before; restore it (refusing to start without the "
             "volumes it holds)";
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (present ? 0 : SQLITE_OPEN_CREATE);
  if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK)
    return reason(db_);
  if (sqlite3_db_readonly(db_, "main") == 1)
    return "read-only (every change would fail)";
  sqlite3_busy_timeout(db_, 10000);
  // WAL with synchronous=FULL syncs the log at every commit. Where WAL is not possible (no
  // shared memory on this filesystem), EXTRA also syncs the directory after a rollback
  // journal is deleted, which FULL does not.
  std::string mode;
  auto keep_mode = [](void* out, int, char** values, char**) {
    *static_cast<std::string*>(out) = values[0] != nullptr ? values[0] : "";
    return 0;
  };
  if (sqlite3_exec(db_, "PRAGMA journal_mode=WAL", keep_mode, &mode, nullptr) != SQLITE_OK)
    return reason(db_);
  if (mode != "wal")
    log::write(log::level::warn, {{"event", "journal"},
                                  {"result", "journal_mode " + mode + ", not wal: synchronous=EXTRA"}});
  for (auto sql : {mode == "wal" ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=EXTRA",
                   "CREATE TABLE IF NOT EXISTS volumes("
                   "name TEXT PRIMARY KEY NOT NULL, record BLOB NOT NULL) WITHOUT ROWID"})
    if (auto why = exec(sql); !why.empty())
      return why;
  if (!fs::exists(dir_ / made_marker, err)) {
    int fd = ::open((dir_ / made_marker).c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 || ::fsync(fd) != 0 || safe_fs::sync_dir(dir_) != 0) {
      int e = errno;
      if (fd >= 0)
        ::close(fd);
      return "cannot make " + (dir_ / made_marker).string() + ": " + os_reason(e);
    }
    ::close(fd);
  }
  if (sqlite3_prepare_v2(db_, "INSERT OR REPLACE INTO volumes(name, record) VALUES(?1, ?2)", -1,
                         &put_, nullptr) != SQLITE_OK
      || sqlite3_prepare_v2(db_, "DELETE FROM volumes WHERE name = ?1", -1, &del_, nullptr)
           != SQLITE_OK
      || sqlite3_prepare_v2(db_, "SELECT record FROM volumes WHERE name = ?1", -1, &get_,
                            nullptr)
           != SQLITE_OK)
    return reason(db_);
  return "";
}

std::string journal_store::stored(const std::string& name, std::optional<std::string>& out) {
  out.reset();
  sqlite3_bind_text(get_, 1, name.data(), static_cast<int>(name.size()), SQLITE_STATIC);
  int rc = sqlite3_step(get_);
  if (rc == SQLITE_ROW) {
    auto* blob = static_cast<const char*>(sqlite3_column_blob(get_, 0));
    out.emplace(blob != nullptr ? blob : "", static_cast<size_t>(sqlite3_column_bytes(get_, 0)));
  }
  std::string why = rc == SQLITE_ROW || rc == SQLITE_DONE ? "" : reason(db_);
  sqlite3_reset(get_);
  sqlite3_clear_bindings(get_);
  return why;
}

std::string journal_store::apply(const std::string& name, const std::optional<std::string>& text) {
  auto* stmt = text ? put_ : del_;
  sqlite3_bind_text(stmt, 1, name.data(), static_cast<int>(name.size()), SQLITE_STATIC);
  if (text)
    sqlite3_bind_blob(stmt, 2, text->data(), static_cast<int>(text->size()), SQLITE_STATIC);
  int rc = sqlite3_step(stmt);
  std::string why = rc == SQLITE_DONE ? "" : reason(db_);
  sqlite3_reset(stmt);
  sqlite3_clear_bindings(stmt);
  return why;
}

std::string journal_store::migrate() {
  std::deque<change> found;       // files whose records go into the journal
  std::vector<std::string> done;  // files the journal holds already, byte for byte
  std::vector<std::string> conflicts;
  std::error_code err;
  for (auto it = fs::directory_iterator(dir_, err); !err && it != fs::directory_iterator();
       it.increment(err)) {
    auto name = it->path().filename().string();
    if (name == ".tmp") {
      // Release 0.x's torn writes: the records they were replacing are intact.
      std::error_code ignore;
      fs::remove_all(it->path(), ignore);
      continue;
    }
    if (name[0] == '.')
      continue;  // names never start with '.': the journal's own files, .v1, .lock
    std::string text;
    std::error_code kind_err;
    if (it->symlink_status(kind_err).type() == fs::file_type::regular) {
      if (int e = read_file(it->path(), text))
        return "cannot read " + it->path().string() + ": " + os_reason(e);
    } else {
      // Release 0.x listed it as an unreadable record: so does the journal ("" is none).
      log::write(log::level::error, {{"event", "migrate"},
                                     {"volume", name},
                                     {"result", it->path().string()
                                                  + " is no regular file: kept as an "
                                                    "unreadable record"}});
    }
    std::optional<std::string> have;
    if (auto why = stored(name, have); !why.empty())
      return why;
    if (!have) {
      auto& c = found.emplace_back();
      c.name = name;
      c.text = std::move(text);
    } else if (*have == text) {
      done.push_back(name);  // migrated before a crash stopped the move
    } else {
      conflicts.push_back(name);
    }
  }
  if (err)
    return "cannot read " + dir_.string() + ": " + os_reason(err.value());
  if (!found.empty()) {
    std::deque<change*> batch;
    for (auto& c : found)
      batch.push_back(&c);
    if (auto why = commit(batch); !why.empty())
      return "cannot commit " + std::to_string(found.size()) + " records: " + why;
  }
  if (found.empty() && done.empty() && conflicts.empty())
    return "";
  // Durable in the journal: only now may the files go (kept, out of the way).
  auto kept = dir_ / v1_dir;
  fs::create_directories(kept, err);
  if (err)
    return "cannot create " + kept.string() + ": " + os_reason(err.value());
  for (auto& c : found)
    done.push_back(c.name);
  for (auto& name : done)
    if (int e = move_aside(dir_ / name, kept, name))
      return "cannot move " + (dir_ / name).string() + " to " + kept.string() + ": "
             + os_reason(e);
  for (auto& name : conflicts) {
    if (int e = move_aside(dir_ / name, kept, name + ".conflict"))
      return "cannot move " + (dir_ / name).string() + " to " + kept.string() + ": "
             + os_reason(e);
    log::write(log::level::error,
               {{"event", "migrate"},
                {"volume", name},
                {"result", (dir_ / name).string()
                             + " differs from the journal's record: the journal's is kept, the "
                               "file is set aside in "
                             + kept.string() + " as " + name + ".conflict"}});
  }
  if (int e = safe_fs::sync_dir(kept); e != 0 || (e = safe_fs::sync_dir(dir_)) != 0)
    return "sync of " + dir_.string() + ": " + os_reason(e);
  if (!found.empty())
    log::write(log::level::info, {{"event", "migrate"},
                                  {"records", std::to_string(found.size())},
                                  {"from", dir_.string() + "/NAME"},
                                  {"kept", kept.string()}});
  return "";
}

caf::error journal_store::write(const volume_record& r, const volume_record*) {
  if (auto err = injected(r.name))
    return err;
  return submit(r.name, encode(r));
}

caf::error journal_store::erase(const std::string& name) {
  if (auto err = injected(name))
    return err;
  return submit(name, std::nullopt);
}

bool journal_store::enqueue(change* c, std::string& why) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!broken_.empty())
      why = broken_;
    else if (stopping_ || !committer_.joinable())
      why = "the state journal is closed";
    else
      queue_.push_back(c);
  }
  if (!why.empty())
    return false;
  wake_.notify_one();
  return true;
}

caf::error journal_store::submit(std::string name, std::optional<std::string> text) {
  std::promise<std::string> outcome;
  auto done = outcome.get_future();
  auto* c = new change{std::move(name), std::move(text), {}, {}, false};
  c->done = [&outcome](std::string why) { outcome.set_value(std::move(why)); };
  auto vol = c->name;
  std::string why;
  if (!enqueue(c, why))
    delete c;
  else
    why = done.get();
  if (!why.empty())
    return make_error(ec::state_write_failed, vol, why);
  return caf::none;
}

void journal_store::write_async(const volume_record& r, const volume_record*, written_fn done) {
  auto* c = new change{r.name, encode(r), {}, {}, true};
  c->done = [done = std::move(done), vol = r.name](std::string why) {
    done(why.empty() ? caf::error{} : make_error(ec::state_write_failed, vol, why));
  };
  std::string why;
  if (!enqueue(c, why)) {
    c->done(why);
    delete c;
  }
}

void journal_store::run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty())
      return;  // stopping, and everything queued is committed
    std::deque<change*> batch;
    std::deque<std::pair<change*, std::string>> refused;  // by the failpoint state.write
    while (!queue_.empty() && batch.size() < max_batch) {
      batch.push_back(queue_.front());
      queue_.pop_front();
    }
    auto broken = broken_;
    lock.unlock();
    for (auto i = batch.begin(); i != batch.end();) {
      if (auto fault = (*i)->injected ? failpoint::hit("state.write") : ""; !fault.empty()) {
        refused.emplace_back(*i, fault);
        i = batch.erase(i);
      } else {
        ++i;
      }
    }
    auto began = std::chrono::steady_clock::now();
    auto why = !broken.empty() ? broken : batch.empty() ? "" : commit(batch);
    if (broken.empty() && !batch.empty()) {
      auto& m = metrics::service();
      m.commit_seconds.observe(static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now()
                                                             - began)
          .count()));
      m.commit_batch.observe(batch.size());
    }
    if (why.find("rollback failed") != std::string::npos) {
      std::lock_guard<std::mutex> hold(mu_);
      broken_ = "the state journal failed earlier (" + why + "); restart actorvol";
    }
    for (auto& [c, fault] : refused) {
      c->done(fault);
      delete c;
    }
    for (auto* c : batch) {
      c->done(why);  // a synchronous writer may return (and its outcome end) at once
      delete c;
    }
    lock.lock();
  }
}

std::string journal_store::commit(std::deque<change*>& batch) {
  if (auto why = exec("BEGIN IMMEDIATE"); !why.empty())
    return why;
  auto rollback = [this](std::string why) {
    exec("ROLLBACK");  // fails harmlessly when SQLite has rolled back already
    return why;
  };
  for (auto* c : batch) {
    if (auto why = stored(c->name, c->before); !why.empty())
      return rollback(why);
    if (auto why = apply(c->name, c->text); !why.empty())
      return rollback(why);
  }
  if (auto fault = failpoint::hit("state.commit"); !fault.empty())
    return rollback(fault);
  // A COMMIT that fails may have written its log frames before the fsync failed: after a
  // crash they could be replayed. The undo writes what each change replaced after them.
  if (auto why = exec("COMMIT"); !why.empty())
    return undo_commit(batch, rollback(why));
  if (auto fault = failpoint::hit("state.synced"); !fault.empty())
    return undo_commit(batch, fault);
  commits_.fetch_add(1, std::memory_order_relaxed);
  return "";
}

std::string journal_store::undo_commit(std::deque<change*>& batch, const std::string& why) {
  auto failed = [&](const std::string& undo_why) {
    exec("ROLLBACK");
    log::write(log::level::error, {{"event", "rollback"},
                                   {"result", "state journal: " + why
                                                + "; rollback failed: " + undo_why}});
    return why + "; rollback failed: " + undo_why + " (the journal may not match)";
  };
  if (auto e = exec("BEGIN IMMEDIATE"); !e.empty())
    return failed(e);
  for (auto c = batch.rbegin(); c != batch.rend(); ++c)
    if (auto e = apply((*c)->name, (*c)->before); !e.empty())
      return failed(e);
  if (auto e = exec("COMMIT"); !e.empty())
    return failed(e);
  commits_.fetch_add(1, std::memory_order_relaxed);
  return why;
}

caf::error journal_store::load_each(size_t part, const take_fn& take, unsigned threads) {
  // A connection of its own: it sees what is committed, never a batch in flight.
  part = std::max<size_t>(part, 1);
  std::vector<loaded_record> out;
  std::string bytes;                             // the part's texts, one after the other
  std::vector<std::pair<size_t, size_t>> where;  // each one's offset and size in `bytes`
  std::vector<std::string_view> texts;
  auto hand_on = [&] {
    texts.clear();
    for (auto [offset, size] : where)
      texts.emplace_back(bytes.data() + offset, size);
    decode_all(out, texts, threads);
    take(std::move(out));
    out = {};
    out.reserve(part);
    bytes.clear();
    where.clear();
  };
  sqlite3* db = nullptr;
  sqlite3_stmt* rows = nullptr;
  auto path = (dir_ / file_name).string();
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc == SQLITE_OK) {
    sqlite3_busy_timeout(db, 10000);
    rc = sqlite3_prepare_v2(db, "SELECT name, record FROM volumes", -1, &rows, nullptr);
    out.reserve(part);
  }
  while (rc == SQLITE_OK && (rc = sqlite3_step(rows)) == SQLITE_ROW) {
    auto& l = out.emplace_back();
    l.name.assign(reinterpret_cast<const char*>(sqlite3_column_text(rows, 0)),
                  static_cast<size_t>(sqlite3_column_bytes(rows, 0)));
    auto* blob = static_cast<const char*>(sqlite3_column_blob(rows, 1));
    auto size = static_cast<size_t>(sqlite3_column_bytes(rows, 1));
    where.emplace_back(bytes.size(), size);
    if (blob != nullptr)
      bytes.append(blob, size);
    if (out.size() == part)
      hand_on();
    rc = SQLITE_OK;
  }
  std::string why = rc == SQLITE_DONE ? "" : reason(db);
  sqlite3_finalize(rows);
  sqlite3_close_v2(db);
  if (!why.empty())  // never start without every volume
    return make_error(ec::state_unusable, "", "cannot read " + path + ": " + why);
  if (!out.empty())
    hand_on();
  return caf::none;
}

} // namespace actorvol
