#pragma once

// The state of every volume in one journal: ROOT/state/.journal.sqlite, SQLite in WAL mode
// with synchronous=FULL (a commit is durable when it returns). One committer thread owns the
// writes: it takes every change queued while the previous commit ran and commits them in one
// transaction, so one fsync covers the whole batch (group commit). A writer blocks until its
// batch is durable, or fails with the batch, which then changed nothing: a commit that
// reports failure after it may have reached the disk (an fsync error) is undone by a second
// transaction that puts back what each change replaced; should that fail too, the journal
// refuses every later write until a restart (what is on disk is then uncertain).
//
// ROOT/state/.lock is held (flock) while the journal is open: a second actorvol on the same
// root fails to start instead of losing updates.
//
// init() migrates a root of release 0.x (ROOT/state/NAME files, see file_store): the files are
// copied into the journal in one transaction, byte for byte (an unreadable record stays
// unreadable), and only once that is durable moved to ROOT/state/.v1/. A file found at a
// later start is migrated again if the journal lacks its name (a crash before the move), is
// only moved if the journal holds the same bytes, and is set aside (.v1/NAME.conflict, logged
// as an error) if the journal holds another record: the journal is never overwritten by a
// stray file. A journal that is missing or empty where one was made before (ROOT/state/
// .journal.made, made once its table is committed) stops the start instead of starting with
// no volumes.

#include "actors/store.hpp"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

struct sqlite3;
struct sqlite3_stmt;

namespace actorvol {

class journal_store : public state_store {
public:
  explicit journal_store(std::filesystem::path state_dir);

  /// Commits what is still queued, then closes the journal and releases its lock.
  ~journal_store() override;

  journal_store(const journal_store&) = delete;
  journal_store& operator=(const journal_store&) = delete;

  /// Locks and opens (or makes) the journal, migrates release 0.x's files, starts the
  /// committer.
  caf::error init() override;

  /// Queues the change and waits until its batch is durable (failpoints: state.write before
  /// it is queued; state.commit for the whole batch before its COMMIT; state.synced after
  /// it, as an fsync error that makes a commit which reached the disk report failure).
  caf::error write(const volume_record& r, const volume_record* previous) override;
  caf::error erase(const std::string& name) override;

  /// Queues the change and returns; `done` runs on the committer thread once its batch is
  /// durable or failed. The failpoint state.write is taken there, as the committer takes
  /// the change (a delay holds up that batch).
  void write_async(const volume_record& r, const volume_record* previous,
                   written_fn done) override;

  caf::error load_each(size_t part, const take_fn& take, unsigned threads = 4) override;

  /// The transactions committed so far (each is one fsync of the journal).
  uint64_t commits() const {
    return commits_.load(std::memory_order_relaxed);
  }

  /// The journal's file name in ROOT/state.
  static constexpr const char* file_name = ".journal.sqlite";

private:
  struct change {
    std::string name;
    std::optional<std::string> text;    // none: erase
    std::optional<std::string> before;  // what it replaced (none: no record), for an undo
    std::function<void(std::string)> done;  // told "" or why it failed, once
    bool injected = false;  // the failpoint state.write is the committer's to take
  };

  caf::error submit(std::string name, std::optional<std::string> text);
  // Queues `c` (which the committer deletes once it has told `c->done`); false and nothing
  // queued when the journal takes no more writes, with `why` set.
  bool enqueue(change* c, std::string& why);
  void run();
  std::string commit(std::deque<change*>& batch);
  std::string undo_commit(std::deque<change*>& batch, const std::string& why);
  std::string apply(const std::string& name, const std::optional<std::string>& text);
  std::string stored(const std::string& name, std::optional<std::string>& out);
  std::string exec(const char* sql);
  std::string open();
  std::string migrate();

  std::filesystem::path dir_;
  int lock_fd_ = -1;
  sqlite3* db_ = nullptr;
  sqlite3_stmt* put_ = nullptr;
  sqlite3_stmt* del_ = nullptr;
  sqlite3_stmt* get_ = nullptr;
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<change*> queue_;  // guarded by mu_
  bool stopping_ = false;      // guarded by mu_
  std::string broken_;         // guarded by mu_: why no write is taken any more
  std::thread committer_;
  std::atomic<uint64_t> commits_{0};
};

} // namespace actorvol
