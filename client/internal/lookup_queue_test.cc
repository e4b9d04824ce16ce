// The batching client's look-up queue on its own: no server, no channel, no
// threads. A randomized run checks it against a plain reference model.
#include "client/internal/lookup_queue.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <deque>
#include <random>
#include <set>
#include <utility>
#include <vector>

namespace {

using client::LookupResult;
using client::internal::EntryState;
using client::internal::LookupEntry;
using client::internal::LookupQueue;

const absl::Time kStart = absl::FromUnixSeconds(1'000'000);

absl::Time At(int ms) { return kStart + absl::Milliseconds(ms); }

// Allocates and queues an entry with `deadline`, watching it unless the
// deadline is infinite (as the lane does for a look-up it could not send).
LookupEntry* Queue(LookupQueue& queue, absl::Time deadline) {
  LookupEntry* entry = queue.Allocate();
  entry->deadline = deadline;
  queue.PushBack(entry);
  if (deadline != absl::InfiniteFuture()) queue.WatchDeadline(entry);
  return entry;
}

}  // namespace

TEST_CASE("lookup queue: look-ups leave in the order they came", "[lookup-queue]") {
  LookupQueue queue;
  CHECK(queue.empty());
  CHECK(queue.front() == nullptr);
  CHECK(queue.PopFront() == nullptr);
  std::vector<LookupEntry*> entries;
  for (int i = 0; i < 5; ++i) entries.push_back(Queue(queue, At(100 - i)));
  CHECK(queue.size() == 5);
  for (LookupEntry* entry : entries) CHECK(entry->state == EntryState::kQueued);
  for (LookupEntry* expected : entries) {
    REQUIRE(queue.front() == expected);
    LookupEntry* popped = queue.PopFront();
    CHECK(popped == expected);
    CHECK(popped->state == EntryState::kSent);
  }
  CHECK(queue.empty());
  CHECK(queue.EarliestDeadline() == nullptr);  // popped entries leave the deadline order too
}

TEST_CASE("lookup queue: a dropped look-up leaves the others in order", "[lookup-queue]") {
  LookupQueue queue;
  LookupEntry* a = Queue(queue, At(10));
  LookupEntry* b = Queue(queue, At(20));
  LookupEntry* c = Queue(queue, At(30));
  queue.Drop(b);
  CHECK(b->state == EntryState::kFree);
  CHECK(queue.size() == 2);
  CHECK(queue.PopFront() == a);
  CHECK(queue.PopFront() == c);
  CHECK(queue.empty());

  SECTION("dropping the head and the tail") {
    LookupEntry* d = Queue(queue, At(40));
    LookupEntry* e = Queue(queue, At(50));
    LookupEntry* f = Queue(queue, At(60));
    queue.Drop(d);
    CHECK(queue.front() == e);
    queue.Drop(f);
    CHECK(queue.size() == 1);
    CHECK(queue.PopFront() == e);
    CHECK(queue.empty());
  }
}

TEST_CASE("lookup queue: the earliest watched deadline, whatever the arrival order",
          "[lookup-queue]") {
  LookupQueue queue;
  LookupEntry* late = Queue(queue, At(300));
  LookupEntry* none = Queue(queue, absl::InfiniteFuture());  // not watched
  LookupEntry* soon = Queue(queue, At(100));
  LookupEntry* middle = Queue(queue, At(200));
  LookupEntry* unwatched = queue.Allocate();  // queued, deadline never watched
  unwatched->deadline = At(1);
  queue.PushBack(unwatched);
  CHECK(queue.EarliestDeadline() == soon);
  queue.Drop(soon);
  CHECK(queue.EarliestDeadline() == middle);
  // Popping takes the FIFO head (late), which leaves the deadline order.
  CHECK(queue.PopFront() == late);
  CHECK(queue.EarliestDeadline() == middle);
  CHECK(queue.PopFront() == none);
  CHECK(queue.PopFront() == middle);
  CHECK(queue.EarliestDeadline() == nullptr);
  CHECK(queue.PopFront() == unwatched);
  CHECK(queue.empty());
}

TEST_CASE("lookup queue: equal deadlines are each found and each removed", "[lookup-queue]") {
  LookupQueue queue;
  LookupEntry* a = Queue(queue, At(50));
  LookupEntry* b = Queue(queue, At(50));
  LookupEntry* first = queue.EarliestDeadline();
  REQUIRE((first == a || first == b));
  queue.Drop(first);
  LookupEntry* second = queue.EarliestDeadline();
  CHECK(second == (first == a ? b : a));
  queue.Drop(second);
  CHECK(queue.EarliestDeadline() == nullptr);
  CHECK(queue.empty());
}

TEST_CASE("lookup queue: freed entries are reused, last freed first, with a new generation",
          "[lookup-queue]") {
  LookupQueue queue;
  LookupEntry* a = queue.Allocate();
  LookupEntry* b = queue.Allocate();
  REQUIRE(a != b);
  const std::uint64_t a_generation = a->generation;
  int calls = 0;
  a->callback = [&calls](absl::StatusOr<LookupResult>) { ++calls; };
  a->state = EntryState::kSent;  // as the lane marks a unary look-up
  queue.Free(a);
  CHECK(a->state == EntryState::kFree);
  CHECK(a->callback == nullptr);  // cleared, never run
  CHECK(calls == 0);
  CHECK(a->batch == nullptr);
  CHECK(a->unary == nullptr);
  CHECK(a->generation == a_generation + 1);
  queue.Free(b);
  CHECK(queue.Allocate() == b);  // the most recently freed
  CHECK(queue.Allocate() == a);
  LookupEntry* fresh = queue.Allocate();  // the pool is empty: a new entry
  CHECK(fresh != a);
  CHECK(fresh != b);
  CHECK(fresh->generation == 0);

  SECTION("a dropped entry is back in the pool with a new generation") {
    queue.PushBack(fresh);
    queue.WatchDeadline(fresh);
    queue.Drop(fresh);
    CHECK(fresh->generation == 1);
    CHECK(queue.Allocate() == fresh);
  }
}

TEST_CASE("lookup queue: the pool grows only to the most entries in use at once",
          "[lookup-queue]") {
  LookupQueue queue;
  std::set<LookupEntry*> seen;
  std::vector<LookupEntry*> in_use;
  for (int round = 0; round < 200; ++round) {
    for (int i = 0; i < 16; ++i) {
      LookupEntry* entry = Queue(queue, At(round * 16 + i));
      // Addresses are stable: every entry seen before still lives where it was.
      seen.insert(entry);
      in_use.push_back(entry);
    }
    for (LookupEntry* entry : in_use) {
      if (entry->state == EntryState::kQueued) queue.Drop(entry);
    }
    in_use.clear();
  }
  CHECK(seen.size() == 16);
}

TEST_CASE("lookup queue: random operations agree with a reference model", "[lookup-queue]") {
  std::mt19937 random(20240611);  // fixed: the run is the same every time
  LookupQueue queue;
  std::deque<LookupEntry*> fifo;                               // the model's FIFO
  std::multiset<std::pair<absl::Time, LookupEntry*>> watched;  // the model's deadlines
  std::vector<LookupEntry*> sent;
  const auto remove_from_model = [&](LookupEntry* entry) {
    fifo.erase(std::find(fifo.begin(), fifo.end(), entry));
    watched.erase({entry->deadline, entry});
  };
  for (int step = 0; step < 20000; ++step) {
    const int op = std::uniform_int_distribution<int>(0, 9)(random);
    if (op <= 3) {  // queue one, most with a deadline (some equal: 0..49 ms)
      const bool has_deadline = op != 0;
      const absl::Time deadline = has_deadline
                                      ? At(std::uniform_int_distribution<int>(0, 49)(random))
                                      : absl::InfiniteFuture();
      LookupEntry* entry = Queue(queue, deadline);
      fifo.push_back(entry);
      if (has_deadline) watched.insert({deadline, entry});
    } else if (op == 4 && !fifo.empty()) {  // send the oldest
      LookupEntry* entry = queue.PopFront();
      REQUIRE(entry == fifo.front());
      remove_from_model(entry);
      sent.push_back(entry);
    } else if (op == 5 && !fifo.empty()) {  // cancel any queued one
      LookupEntry* entry =
          fifo[std::uniform_int_distribution<std::size_t>(0, fifo.size() - 1)(random)];
      remove_from_model(entry);
      queue.Drop(entry);
    } else if (op == 6 && !watched.empty()) {  // expire the earliest deadline
      LookupEntry* entry = queue.EarliestDeadline();
      REQUIRE(entry != nullptr);
      CHECK(entry->deadline == watched.begin()->first);
      remove_from_model(entry);
      queue.Drop(entry);
    } else if (op == 7 && !sent.empty()) {  // a sent one completes
      queue.Free(sent.back());
      sent.pop_back();
    }
    REQUIRE(queue.size() == static_cast<int>(fifo.size()));
    REQUIRE(queue.front() == (fifo.empty() ? nullptr : fifo.front()));
    if (watched.empty()) {
      REQUIRE(queue.EarliestDeadline() == nullptr);
    } else {
      REQUIRE(queue.EarliestDeadline() != nullptr);
      REQUIRE(queue.EarliestDeadline()->deadline == watched.begin()->first);
    }
  }
}
