#include "actors/journal_store.hpp"

#include "adaptors/safe_fs.hpp"
#include "core/error.hpp"
#include "core/failpoint.hpp"
#include "core/log.hpp"

#include <sqlite3.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace fs = std::filesystem;

namespace actorvol {

namespace {

// At most this many changes in one transaction; more wait for the next one.
constexpr size_t max_batch = 4096;

// Where release 0.x's files go once the journal holds them durably.
constexpr const char* v1_dir = ".v1";

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
  sqlite3_close_v2(db_);
}

std::string journal_store::exec(const char* sql) {
  char* msg = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &msg) == SQLITE_OK)
    return "";
  std::string why = msg != nullptr ? msg : sqlite3_errmsg(db_);
  sqlite3_free(msg);
  return why;
}

caf::error journal_store::init() {
  auto path = (dir_ / file_name).string();
  auto failed = [&](const std::string& why) {
    return make_error(ec::state_write_failed, "", "state journal " + path + ": " + why);
  };
  std::error_code err;
  fs::create_directories(dir_, err);
  if (err)
    return failed("cannot create " + dir_.string() + ": " + os_reason(err.value()));
  int rc = sqlite3_open_v2(path.c_str(), &db_,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  if (rc != SQLITE_OK)
    return failed(db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc));
  sqlite3_busy_timeout(db_, 10000);  // a reader (load_all, a tool) never makes a commit fail
  for (auto sql : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL",
                   "CREATE TABLE IF NOT EXISTS volumes("
                   "name TEXT PRIMARY KEY NOT NULL, record BLOB NOT NULL) WITHOUT ROWID"})
    if (auto why = exec(sql); !why.empty())
      return failed(why);
  if (sqlite3_prepare_v2(db_, "INSERT OR REPLACE INTO volumes(name, record) VALUES(?1, ?2)", -1,
                         &put_, nullptr) != SQLITE_OK
      || sqlite3_prepare_v2(db_, "DELETE FROM volumes WHERE name = ?1", -1, &del_, nullptr)
           != SQLITE_OK)
    return failed(sqlite3_errmsg(db_));
  if (auto why = migrate(); !why.empty())
    return failed(why);
  committer_ = std::thread([this] { run(); });
  return caf::none;
}

std::string journal_store::migrate() {
  std::deque<change> found;
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
    std::error_code kind_err;
    if (name[0] == '.' || it->symlink_status(kind_err).type() != fs::file_type::regular)
      continue;  // names never start with '.': the journal's own files, .v1
    auto& c = found.emplace_back();
    c.name = name;
    c.text.emplace();
    if (int e = read_file(it->path(), *c.text))
      return "cannot read " + it->path().string() + " to migrate it: " + os_reason(e);
  }
  if (err)
    return "cannot read " + dir_.string() + ": " + os_reason(err.value());
  if (found.empty())
    return "";
  std::deque<change*> batch;
  for (auto& c : found)
    batch.push_back(&c);
  if (auto why = commit(batch); !why.empty())
    return "migration of " + std::to_string(found.size()) + " records: " + why;
  // Durable in the journal: only now may the files go (kept, out of the way).
  auto kept = dir_ / v1_dir;
  fs::create_directories(kept, err);
  for (auto& c : found)
    if (!err && ::rename((dir_ / c.name).c_str(), (kept / c.name).c_str()) != 0)
      return "cannot move " + (dir_ / c.name).string() + " to " + kept.string() + ": "
             + os_reason(errno);
  if (err)
    return "cannot create " + kept.string() + ": " + os_reason(err.value());
  if (int e = safe_fs::sync_dir(kept); e != 0 || (e = safe_fs::sync_dir(dir_)) != 0)
    return "sync of " + dir_.string() + ": " + os_reason(e);
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

caf::error journal_store::submit(std::string name, std::optional<std::string> text) {
  change c{std::move(name), std::move(text), {}};
  auto done = c.done.get_future();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ || !committer_.joinable())
      return make_error(ec::state_write_failed, c.name, "the state journal is closed");
    queue_.push_back(&c);
  }
  wake_.notify_one();
  if (auto why = done.get(); !why.empty())
    return make_error(ec::state_write_failed, c.name, why);
  return caf::none;
}

void journal_store::run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty())
      return;  // stopping, and everything queued is committed
    std::deque<change*> batch;
    while (!queue_.empty() && batch.size() < max_batch) {
      batch.push_back(queue_.front());
      queue_.pop_front();
    }
    lock.unlock();
    auto why = commit(batch);
    for (auto* c : batch)
      c->done.set_value(why);  // its writer may return (and `c` end) at once
    lock.lock();
  }
}

std::string journal_store::commit(std::deque<change*>& batch) {
  if (auto why = exec("BEGIN IMMEDIATE"); !why.empty())
    return why;
  auto undo = [this](std::string why) {
    exec("ROLLBACK");  // fails harmlessly when SQLite has rolled back already
    return why;
  };
  for (auto* c : batch) {
    auto* stmt = c->text ? put_ : del_;
    sqlite3_bind_text(stmt, 1, c->name.data(), static_cast<int>(c->name.size()), SQLITE_STATIC);
    if (c->text)
      sqlite3_bind_blob(stmt, 2, c->text->data(), static_cast<int>(c->text->size()),
                        SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    std::string why = rc == SQLITE_DONE ? "" : sqlite3_errmsg(db_);
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    if (!why.empty())
      return undo(why);
  }
  if (auto fault = failpoint::hit("state.commit"); !fault.empty())
    return undo(fault);
  if (auto why = exec("COMMIT"); !why.empty())
    return undo(why);
  commits_.fetch_add(1, std::memory_order_relaxed);
  return "";
}

caf::expected<std::vector<loaded_record>> journal_store::load_all(unsigned threads) {
  // A connection of its own: it sees what is committed, never a batch in flight.
  std::vector<loaded_record> out;
  std::vector<std::string> texts;
  sqlite3* db = nullptr;
  sqlite3_stmt* rows = nullptr;
  auto path = (dir_ / file_name).string();
  std::string why;
  auto problem = [&](const char* what) {
    why = std::string{what} + " " + path + ": "
          + (db != nullptr ? sqlite3_errmsg(db) : "out of memory");
  };
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr)
        != SQLITE_OK
      || sqlite3_prepare_v2(db, "SELECT name, record FROM volumes", -1, &rows, nullptr)
           != SQLITE_OK) {
    problem("cannot read");
  } else {
    sqlite3_busy_timeout(db, 10000);
    int rc;
    while ((rc = sqlite3_step(rows)) == SQLITE_ROW) {
      auto& l = out.emplace_back();
      l.name.assign(reinterpret_cast<const char*>(sqlite3_column_text(rows, 0)),
                    static_cast<size_t>(sqlite3_column_bytes(rows, 0)));
      auto* blob = static_cast<const char*>(sqlite3_column_blob(rows, 1));
      texts.emplace_back(blob != nullptr ? blob : "",
                         static_cast<size_t>(sqlite3_column_bytes(rows, 1)));
    }
    if (rc != SQLITE_DONE)
      problem("cannot read all of");
  }
  sqlite3_finalize(rows);
  sqlite3_close_v2(db);
  if (!why.empty())
    return make_error(ec::state_write_failed, "", why);  // never start without every volume
  decode_all(out, texts, threads);
  return out;
}

} // namespace actorvol
