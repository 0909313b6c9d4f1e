// The state stores: what every store promises (store.hpp), on both implementations, then
// the journal's own: group commit, a failed batch, migration from release 0.x's files.

#include "actors/file_store.hpp"
#include "actors/journal_store.hpp"

#include "core/error.hpp"
#include "core/failpoint.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <fstream>
#include <sstream>
#include <thread>

using namespace actorvol;
namespace fs = std::filesystem;

namespace {

std::vector<loaded_record> sorted(caf::expected<std::vector<loaded_record>> all) {
  EXPECT_TRUE(all) << render(all.error());
  if (!all)
    return {};
  std::sort(all->begin(), all->end(), [](auto& a, auto& b) { return a.name < b.name; });
  return std::move(*all);
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

// Writes `records` with a store of type S on `dir` (made there if need be), then closes it.
template <class S>
void write_with(const fs::path& dir, std::initializer_list<volume_record> records) {
  S store{dir};
  ASSERT_FALSE(store.init());
  for (auto& r : records)
    ASSERT_FALSE(store.write(r, nullptr));
}

} // namespace

template <class S>
class Store : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_FALSE(store.init());
  }
  void TearDown() override {
    failpoint::configure("");
  }
  test::temp_dir tmp;
  S store{tmp / "state"};
  volume_record db{"db", {{"k", "v"}}, "2026-01-01T00:00:00Z", {{"id1", 2}}, {{"id1", 42}}};
};

using Stores = ::testing::Types<journal_store, file_store>;
TYPED_TEST_SUITE(Store, Stores);

TYPED_TEST(Store, EncodeDecodeRoundTrip) {
  auto back = state_store::decode("db", state_store::encode(this->db));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, this->db);
}

// Records as encode() writes them are read without a JSON tree; any other text is read
// through one. Both give the same records and the same problems.
TEST(Decode, OddButValidTextsReadAsTheJsonSaysAndBadOnesAreNamed) {
  auto rec = [](const std::string& text) { return state_store::decode("db", text); };
  auto problem = [&](const std::string& text) {
    auto r = rec(text);
    return r ? std::string{"(no problem)"} : render(r.error());
  };
  volume_record bare{"db", {}, "t", {}, {}};
  EXPECT_EQ(*rec(R"({"created_at":"t","name":"db","opts":{},"uses":{}})"), bare)
    << "no used_since, no version";
  EXPECT_EQ(*rec(R"({"version":7,"extra":[1,{}],"name":"db","opts":{},"created_at":"t","uses":{}})"),
            bare) << "keys it does not know are ignored";
  volume_record used{"db", {{"o", "x"}}, "t", {{"a", 1}, {"b", 4294967295u}}, {{"a", -5}, {"b", 9}}};
  EXPECT_EQ(*rec(R"({"name":"db","opts":{"o":"x"},"created_at":"t","uses":{"a":1,"b":4294967295},)"
                 R"("used_since":{"a":-5,"b":9}})"),
            used);
  EXPECT_EQ(rec(R"({"name":"db","opts":{},"created_at":"t","uses":{"a":1.0}})")->uses.at("a"), 1u)
    << "a count written as 1.0 is still 1";
  // A repeated key: the last one counts, as in the JSON library.
  EXPECT_EQ(problem(R"({"name":"db","name":"x","opts":{},"created_at":"t","uses":{}})"),
            "volume \"db\": corrupt state record: it names volume \"x\"");
  EXPECT_EQ(rec(R"({"name":"db","opts":{"o":"1","o":"2"},"created_at":"t","uses":{}})")->opts.at("o"),
            "2");
  for (auto bad : {R"([1])", R"({"name":"db"})", R"({"name":1,"opts":{},"created_at":"t","uses":{}})",
                   R"({"name":"db","opts":{"o":1},"created_at":"t","uses":{}})",
                   R"({"name":"db","opts":{},"created_at":"t","uses":{"a":"1"}})",
                   R"({"name":"db","opts":{},"created_at":"t","uses":{"a":0}})",
                   R"({"name":"db","opts":{},"created_at":"t","uses":{}} trailing)"})
    EXPECT_EQ(problem(bad).rfind("volume \"db\": corrupt state record: ", 0), 0u)
      << bad << " -> " << problem(bad);
}

TYPED_TEST(Store, WriteLoadErase) {
  auto& store = this->store;
  ASSERT_FALSE(store.write(this->db, nullptr));
  auto loaded = sorted(store.load_all());
  ASSERT_EQ(loaded.size(), 1u);
  ASSERT_TRUE(loaded[0].record);
  EXPECT_EQ(*loaded[0].record, this->db);
  ASSERT_FALSE(store.erase("db"));
  EXPECT_TRUE(sorted(store.load_all()).empty());
  EXPECT_FALSE(store.erase("db")) << "erasing a missing record is no error";
}

TYPED_TEST(Store, FailedWriteLeavesTheOldRecord) {
  auto& store = this->store;
  ASSERT_FALSE(store.write(this->db, nullptr));
  ASSERT_EQ(failpoint::configure("state.write=error(EIO)"), "");
  auto next = this->db;
  next.uses["id2"] = 1;
  auto err = store.write(next, &this->db);
  ASSERT_TRUE(err);
  EXPECT_EQ(render(err), "volume \"db\": state write failed: input/output error");
  EXPECT_TRUE(store.erase("db"));
  failpoint::configure("");
  auto loaded = sorted(store.load_all());
  ASSERT_EQ(loaded.size(), 1u);
  EXPECT_EQ(*loaded[0].record, this->db);
}

TYPED_TEST(Store, LongestNameFits) {
  auto r = this->db;
  r.name = std::string(255, 'n');
  ASSERT_FALSE(this->store.write(r, nullptr));
  auto loaded = sorted(this->store.load_all());
  ASSERT_EQ(loaded.size(), 1u);
  EXPECT_EQ(loaded[0].record->name, r.name);
}

TYPED_TEST(Store, LoadsManyRecordsInParallel) {
  for (int i = 0; i < 1500; ++i) {
    auto r = this->db;
    r.name = "v" + std::to_string(i);
    ASSERT_FALSE(this->store.write(r, nullptr));
  }
  auto loaded = sorted(this->store.load_all(4));
  ASSERT_EQ(loaded.size(), 1500u);
  for (auto& l : loaded) {
    ASSERT_TRUE(l.record) << l.name;
    EXPECT_EQ(l.record->name, l.name);
  }
}

// Start-up takes the records part by part: none larger than asked, every record once, the
// unreadable ones with their problem.
TYPED_TEST(Store, HandsEveryRecordOnInPartsNoLargerThanAsked) {
  for (int i = 0; i < 10; ++i) {
    auto r = this->db;
    r.name = "v" + std::to_string(i);
    ASSERT_FALSE(this->store.write(r, nullptr));
  }
  std::vector<size_t> sizes;
  std::vector<loaded_record> all;
  auto err = this->store.load_each(3, [&](std::vector<loaded_record> part) {
    sizes.push_back(part.size());
    for (auto& l : part)
      all.push_back(std::move(l));
  });
  ASSERT_FALSE(err) << render(err);
  for (auto n : sizes)
    EXPECT_TRUE(n >= 1 && n <= 3) << n;
  auto loaded = sorted(std::move(all));
  ASSERT_EQ(loaded.size(), 10u);
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(loaded[i].record) << loaded[i].name;
    EXPECT_EQ(loaded[i].record->name, loaded[i].name);
    EXPECT_EQ(loaded[i].record->uses, this->db.uses);
  }
  EXPECT_EQ(loaded.front().name, "v0");
  EXPECT_EQ(loaded.back().name, "v9");
}

// -- release 0.x's files ----------------------------------------------------------------

using FileStore = Store<file_store>;

TEST_F(FileStore, TornTempFilesAreIgnoredAndRemoved) {
  ASSERT_FALSE(store.write(db, nullptr));
  std::ofstream(tmp / "state/.tmp/db") << "{\"name\":\"db\",\"op";
  auto loaded = sorted(store.load_all());
  ASSERT_EQ(loaded.size(), 1u);
  EXPECT_EQ(*loaded[0].record, db);
  EXPECT_FALSE(fs::exists(tmp / "state/.tmp/db"));
}

TEST_F(FileStore, CorruptRecordsAreReportedNotDropped) {
  std::ofstream(tmp / "state/bad") << "{not json";
  std::ofstream(tmp / "state/empty") << "";
  std::ofstream(tmp / "state/other") << state_store::encode(db);
  auto loaded = sorted(store.load_all());
  ASSERT_EQ(loaded.size(), 3u);
  for (auto& l : loaded) {
    ASSERT_FALSE(l.record) << l.name;
    EXPECT_EQ(l.problem.rfind("corrupt state record: ", 0), 0u) << l.problem;
  }
}

// -- the journal ---------------------------------------------------------------------------

using Journal = Store<journal_store>;

// Writers that arrive while a commit runs share the next one: one fsync for all of them.
TEST_F(Journal, ConcurrentWritesShareCommits) {
  ASSERT_EQ(failpoint::configure("state.commit=1*delay(300)"), "");
  auto before = store.commits();
  std::vector<std::thread> writers;
  std::vector<caf::error> errors(32);
  for (int i = 0; i < 32; ++i)
    writers.emplace_back([&, i] {
      auto r = db;
      r.name = "w" + std::to_string(i);
      errors[i] = store.write(r, nullptr);
    });
  for (auto& w : writers)
    w.join();
  for (auto& e : errors)
    EXPECT_FALSE(e) << render(e);
  EXPECT_LE(store.commits() - before, 3u) << "32 writers, one commit each";
  EXPECT_EQ(sorted(store.load_all()).size(), 32u);
}

// The VOLUME's way to write (a quick adaptor): write_async returns at once, and every
// outcome arrives once, after its batch is durable. Changes queued while a commit runs share
// the next one, from a single thread too.
TEST_F(Journal, AsyncWritesReturnAtOnceAndAreToldOnceTheirBatchIsDurable) {
  ASSERT_EQ(failpoint::configure("state.commit=1*delay(300)"), "");
  auto before = store.commits();
  std::mutex mu;
  std::condition_variable told;
  std::vector<int> outcomes(100, 0);  // times told: ok 1, an error -1000
  int left = 100;
  auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < 100; ++i) {
    auto r = db;
    r.name = "a" + std::to_string(i);
    store.write_async(r, nullptr, [&, i](caf::error err) {
      std::lock_guard<std::mutex> lock(mu);
      outcomes[i] += err ? -1000 : 1;
      --left;
      told.notify_all();
    });
  }
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(250))
    << "write_async waited for a commit";
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(told.wait_for(lock, std::chrono::seconds(30), [&] { return left == 0; }));
  }
  EXPECT_EQ(std::count(outcomes.begin(), outcomes.end(), 1), 100);
  EXPECT_LE(store.commits() - before, 2u) << "the first change, then the 99 queued behind it";
  EXPECT_EQ(sorted(store.load_all()).size(), 100u);
}

// The failpoint state.write, taken by the committer as it takes each change, fails only the
// change it hits; the others commit.
TEST_F(Journal, AnAsyncWriteHitByStateWriteFailsAloneAndChangesNothing) {
  ASSERT_EQ(failpoint::configure("state.commit=1*delay(300);state.write=1*error(EIO)"), "");
  std::promise<caf::error> first, second;
  auto other = db;
  other.name = "other";
  store.write_async(db, nullptr, [&](caf::error err) { first.set_value(std::move(err)); });
  store.write_async(other, nullptr, [&](caf::error err) { second.set_value(std::move(err)); });
  EXPECT_EQ(render(first.get_future().get()),
            "volume \"db\": state write failed: input/output error");
  EXPECT_FALSE(second.get_future().get());
  auto loaded = sorted(store.load_all());
  ASSERT_EQ(loaded.size(), 1u);
  EXPECT_EQ(loaded[0].name, "other");
}

// A batch that cannot commit fails every writer in it, and changes nothing.
TEST_F(Journal, AFailedCommitFailsTheWholeBatchAndChangesNothing) {
  ASSERT_FALSE(store.write(db, nullptr));
  ASSERT_EQ(failpoint::configure("state.commit=1*error(EIO)"), "");
  auto next = db;
  next.uses["id2"] = 1;
  auto err = store.write(next, &db);
  EXPECT_EQ(render(err), "volume \"db\": state write failed: input/output error");
  auto loaded = sorted(store.load_all());
  ASSERT_EQ(loaded.size(), 1u);
  EXPECT_EQ(*loaded[0].record, db);
  ASSERT_FALSE(store.write(next, &db)) << "the next batch commits";
  EXPECT_EQ(*sorted(store.load_all())[0].record, next);
}

// A commit that reported failure after it reached the disk (an fsync error) is undone by a
// second transaction: the store holds what it held before, now and after a reopen.
TEST_F(Journal, ACommitThatFailsAfterReachingTheDiskIsUndone) {
  ASSERT_FALSE(store.write(db, nullptr));
  ASSERT_EQ(failpoint::configure("state.synced=2*error(EIO)"), "");
  auto next = db;
  next.uses["id2"] = 1;
  EXPECT_EQ(render(store.write(next, &db)), "volume \"db\": state write failed: input/output error");
  EXPECT_TRUE(store.erase("db"));
  failpoint::configure("");
  auto loaded = sorted(store.load_all());
  ASSERT_EQ(loaded.size(), 1u);
  EXPECT_EQ(*loaded[0].record, db);
}

// A statement that fails inside a batch fails every change in it, and the next batch commits.
TEST_F(Journal, AFailedStatementFailsItsWholeBatch) {
  sqlite3* other = nullptr;
  auto path = (tmp / "state" / journal_store::file_name).string();
  ASSERT_EQ(sqlite3_open(path.c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other,
                         "CREATE TRIGGER refuse BEFORE INSERT ON volumes WHEN NEW.name = 'bad' "
                         "BEGIN SELECT RAISE(FAIL, 'refused'); END",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  // The first batch is slow: the next two writers queue meanwhile, and share a batch.
  ASSERT_EQ(failpoint::configure("state.commit=1*delay(1000)"), "");
  auto first = std::thread([&] { EXPECT_FALSE(store.write(db, nullptr)); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  caf::error good_err, bad_err;
  auto good = db, bad = db;
  good.name = "good";
  bad.name = "bad";
  std::thread g([&] { good_err = store.write(good, nullptr); });
  std::thread b([&] { bad_err = store.write(bad, nullptr); });
  first.join();
  g.join();
  b.join();
  EXPECT_NE(render(bad_err).find("refused"), std::string::npos) << render(bad_err);
  EXPECT_NE(render(good_err).find("refused"), std::string::npos)
    << "good shared the failed batch: " << render(good_err);
  auto loaded = sorted(store.load_all());
  ASSERT_EQ(loaded.size(), 1u) << "nothing of the failed batch is stored";
  ASSERT_EQ(sqlite3_exec(other, "DROP TRIGGER refuse", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(other);
  ASSERT_FALSE(store.write(good, nullptr)) << "the next batch commits";
  EXPECT_EQ(sorted(store.load_all()).size(), 2u);
}

// One journal per root: a second store on the same directory does not start.
TEST_F(Journal, ASecondStoreOnTheSameRootDoesNotStart) {
  journal_store second{tmp / "state"};
  auto err = render(second.init());
  EXPECT_NE(err.find("in use: another process"), std::string::npos) << err;
  ASSERT_FALSE(store.write(db, nullptr)) << "the first one goes on";
}

// What was committed is there when the journal is opened again, erased records not.
TEST(JournalReopen, HasEveryCommittedRecord) {
  test::temp_dir tmp;
  volume_record db{"db", {{"k", "v"}}, "2026-01-01T00:00:00Z", {{"id1", 2}}, {{"id1", 42}}};
  {
    journal_store store{tmp / "state"};
    ASSERT_FALSE(store.init());
    ASSERT_FALSE(store.write(db, nullptr));
    auto other = db;
    other.name = "other";
    ASSERT_FALSE(store.write(other, nullptr));
    ASSERT_FALSE(store.erase("other"));
  }
  journal_store again{tmp / "state"};
  ASSERT_FALSE(again.init());
  auto loaded = sorted(again.load_all());
  ASSERT_EQ(loaded.size(), 1u);
  EXPECT_EQ(*loaded[0].record, db);
}

// Where a journal was made, a missing one stops the start: starting empty would lose every
// volume (and detach what they have mounted).
TEST(JournalReopen, AMissingJournalStopsTheStart) {
  test::temp_dir tmp;
  volume_record db{"db", {}, "2026-01-01T00:00:00Z", {}, {}};
  ASSERT_NO_FATAL_FAILURE(write_with<journal_store>(tmp / "state", {db}));
  for (auto suffix : {"", "-wal", "-shm"})
    fs::remove(tmp / "state" / (std::string{journal_store::file_name} + suffix));
  std::ofstream(tmp / "state" / journal_store::file_name) << "";  // empty counts as missing
  journal_store store{tmp / "state"};
  auto err = render(store.init());
  EXPECT_NE(err.find("missing or empty"), std::string::npos) << err;
}

// A root of release 0.x: every file goes into the journal byte for byte (an unreadable one
// stays unreadable, and so listed), then out of the way to .v1; torn temp files are dropped.
TEST(JournalMigration, MovesEveryRecordFileInAndKeepsTheFiles) {
  test::temp_dir tmp;
  volume_record db{"db", {{"k", "v"}}, "2026-01-01T00:00:00Z", {{"id1", 2}}, {{"id1", 42}}};
  ASSERT_NO_FATAL_FAILURE(write_with<file_store>(tmp / "state", {db}));
  std::ofstream(tmp / "state/bad") << "{not json";
  std::ofstream(tmp / "state/.tmp/db") << "{\"name\":\"db\",\"op";
  journal_store store{tmp / "state"};
  ASSERT_FALSE(store.init());
  auto loaded = sorted(store.load_all());
  ASSERT_EQ(loaded.size(), 2u);
  EXPECT_EQ(loaded[0].name, "bad");
  EXPECT_FALSE(loaded[0].record);
  EXPECT_EQ(loaded[0].problem.rfind("corrupt state record: ", 0), 0u) << loaded[0].problem;
  ASSERT_TRUE(loaded[1].record);
  EXPECT_EQ(*loaded[1].record, db);
  EXPECT_FALSE(fs::exists(tmp / "state/db"));
  EXPECT_FALSE(fs::exists(tmp / "state/bad"));
  EXPECT_FALSE(fs::exists(tmp / "state/.tmp"));
  EXPECT_EQ(slurp(tmp / "state/.v1/bad"), "{not json") << "the old files are kept";
  EXPECT_EQ(slurp(tmp / "state/.v1/db"), state_store::encode(db));
}

// A migration that cannot commit leaves the files where they are, and start-up fails.
TEST(JournalMigration, AFailedMigrationMovesNothing) {
  test::temp_dir tmp;
  fs::create_directories(tmp / "state");
  std::ofstream(tmp / "state/db") << "{\"name\":\"db\"}";
  ASSERT_EQ(failpoint::configure("state.commit=1*error(EIO)"), "");
  {
    journal_store store{tmp / "state"};
    auto err = store.init();
    failpoint::configure("");
    EXPECT_NE(render(err).find("cannot commit 1 records: input/output error"), std::string::npos)
      << render(err);
  }
  EXPECT_EQ(slurp(tmp / "state/db"), "{\"name\":\"db\"}");
  EXPECT_FALSE(fs::exists(tmp / "state/.v1/db"));
  journal_store store{tmp / "state"};
  ASSERT_FALSE(store.init()) << "the next start migrates";
  EXPECT_EQ(sorted(store.load_all()).size(), 1u);
  EXPECT_TRUE(fs::exists(tmp / "state/.v1/db"));
}

// A file found at a later start never overwrites the journal: the same bytes (a crash after
// the migration's commit, before the move) are only moved; other bytes are set aside.
TEST(JournalMigration, AStrayFileNeverOverwritesTheJournal) {
  test::temp_dir tmp;
  volume_record db{"db", {}, "2026-01-01T00:00:00Z", {}, {}};
  volume_record twin{"twin", {}, "2026-01-01T00:00:00Z", {}, {}};
  auto both = {db, twin};
  ASSERT_NO_FATAL_FAILURE(write_with<journal_store>(tmp / "state", both));
  std::ofstream(tmp / "state/db") << "{\"stale\":true}";
  std::ofstream(tmp / "state/twin") << state_store::encode(twin);
  fs::create_directories(tmp / "state/.v1");
  std::ofstream(tmp / "state/.v1/twin") << "an earlier file";
  journal_store store{tmp / "state"};
  ASSERT_FALSE(store.init());
  auto loaded = sorted(store.load_all());
  ASSERT_EQ(loaded.size(), 2u);
  EXPECT_EQ(*loaded[0].record, db) << "a stray file overwrote the journal";
  EXPECT_EQ(*loaded[1].record, twin);
  EXPECT_EQ(slurp(tmp / "state/.v1/db.conflict"), "{\"stale\":true}");
  EXPECT_EQ(slurp(tmp / "state/.v1/twin"), "an earlier file") << "nothing kept is replaced";
  EXPECT_EQ(slurp(tmp / "state/.v1/twin.1"), state_store::encode(twin));
  EXPECT_FALSE(fs::exists(tmp / "state/db"));
}

// The journal streams: a part is handed on as soon as it is full, in name order, and a
// record that cannot be decoded is handed on in its place with its problem.
TEST_F(Journal, StreamsFullPartsInNameOrderWithUnreadableRecordsInPlace) {
  for (int i = 0; i < 7; ++i) {
    auto r = db;
    r.name = "v" + std::to_string(i);
    ASSERT_FALSE(store.write(r, nullptr));
  }
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open((tmp / "state" / journal_store::file_name).c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "UPDATE volumes SET record = 'not json' WHERE name = 'v4'",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(other);
  std::vector<std::vector<std::string>> parts;
  std::string problem;
  auto err = store.load_each(3, [&](std::vector<loaded_record> part) {
    parts.emplace_back();
    for (auto& l : part) {
      parts.back().push_back(l.name);
      if (!l.record)
        problem = l.problem;
    }
  });
  ASSERT_FALSE(err) << render(err);
  std::vector<std::vector<std::string>> expected{{"v0", "v1", "v2"}, {"v3", "v4", "v5"}, {"v6"}};
  EXPECT_EQ(parts, expected);
  EXPECT_EQ(problem.rfind("corrupt state record: ", 0), 0u) << problem;
}

// An entry that is no regular file was an unreadable record to release 0.x: so it stays.
TEST(JournalMigration, ANonFileEntryBecomesAnUnreadableRecord) {
  test::temp_dir tmp;
  fs::create_directories(tmp / "state/dir");
  journal_store store{tmp / "state"};
  ASSERT_FALSE(store.init());
  auto loaded = sorted(store.load_all());
  ASSERT_EQ(loaded.size(), 1u);
  EXPECT_EQ(loaded[0].name, "dir");
  EXPECT_FALSE(loaded[0].record);
  EXPECT_TRUE(fs::is_directory(tmp / "state/.v1/dir"));
}
