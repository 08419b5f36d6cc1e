#define CAF_SUITE node.server_restart
#include "tests/support/test.hpp"

#include "tests/node/node_fixture.hpp"

#include <atomic>
#include <deque>
#include <fstream>
#include <set>
#include <thread>

// A database server restart in the middle of a run: a node on PostgreSQL or
// MariaDB (JM_E2E_STORE) keeps going once the server is back, and every job
// succeeds; none is lost. The server is one that tools/test-services.sh
// started (JM_TEST_SERVICES_DIR); the test restarts it with that script.
// With a separate agent store (JM_E2E_AGENT) a second test restarts the
// agent's server while jobs are being scheduled.

using namespace jm;
using namespace std::chrono_literals;
using jm::test::unbox;

namespace {

struct fixture : jm::test::node_fixture {
  fixture() {
    // The restart plus the stores' reconnect back-off must not look like a
    // dead node.
    lease = "10s";
    write_config();
  }
};

/// The last lines of the logs of `server` (as tools/test-services.sh keeps
/// them in `services`: the first instance's, then the restarted one's), for
/// a failure report.
std::string server_log_tail(const std::string& services,
                            const std::string& server) {
  std::string out;
  for (auto path :
       {services
          + (server == "postgres" ? "/pg/server.log" : "/maria/error.log"),
        services + "/" + server + "-restart.log"}) {
    std::ifstream in{path};
    std::deque<std::string> last;
    for (std::string line; std::getline(in, line);) {
      last.push_back(std::move(line));
      if (last.size() > 20)
        last.pop_front();
    }
    out += "\n--- " + path + ", last lines:\n";
    for (auto& line : last)
      out += line + '\n';
  }
  return out;
}

} // namespace

CAF_TEST_FIXTURE_SCOPE(server_restart_tests, fixture)

TEST(a database restart in the middle of a run loses no job) {
  REQUIRE(store.kind != store_kind::sqlite);
  auto services = std::getenv("JM_TEST_SERVICES_DIR");
  REQUIRE(services != nullptr);
  std::string server
    = store.kind == store_kind::postgres ? "postgres" : "mariadb";
  start_node();
  auto file = dir / "runs.txt";
  constexpr size_t n = 3000;
  auto ids = schedule_many({"record", "--count", std::to_string(n), "--data",
                            "file=" + file.string(), "--data", "ms:int=3"});
  REQUIRE_EQUAL(ids.size(), n);
  REQUIRE(jm::test::eventually([&] { return recorded(file).size() >= 300; },
                               60s, 5ms));
  auto restart = jm::test::run(
    {JM_SOURCE_DIR "/tools/test-services.sh", "restart", services, server});
  if (restart.exit_code != 0)
    FAIL("restarting " << server << " failed: " << restart.err);
  auto at_restart = recorded(file).size();
  MESSAGE(server << " restarted after " << at_restart << " of " << n
                 << " runs");
  CHECK(at_restart < n);
  auto c = client();
  // While the store reconnects, a query may fail: that is an answer too
  // (store_failure), and the poll simply asks again.
  size_t failed_polls = 0;
  bool done = jm::test::eventually(
    [&] {
      job_filter f;
      f.limit = 10000;
      auto r = reply_as<std::vector<job>>(c->call(request{f}));
      if (!r) {
        CHECK_EQUAL(code_of(r.error()), ec::store_failure);
        ++failed_polls;
        return false;
      }
      return r->size() == n
             && std::all_of(r->begin(), r->end(),
                            [](const job& x) { return is_final(x.status); });
    },
    120s, 200ms);
  MESSAGE(failed_polls << " polls failed while the store reconnected");
  if (!done)
    FAIL("not every job is final" << stuck_report()
                                  << server_log_tail(services, server));
  for (auto& x : all_jobs(*c))
    CHECK_EQUAL(x.status, job_status::succeeded);
  auto runs = recorded(file);
  CHECK_EQUAL(runs.size(), n);
  size_t repeats = 0;
  for (auto& [id, k] : runs)
    repeats += static_cast<size_t>(k - 1);
  MESSAGE(repeats << " runs repeated");
  // The node kept running (no lease was lost): it still answers.
  auto pong = c->call(request{ping_request{}});
  CHECK(pong && std::holds_alternative<pong_reply>(*pong));
}

TEST(an agent store restart while scheduling loses no job) {
  if (!agent) {
    MESSAGE("no separate agent store (JM_E2E_AGENT): nothing to check");
    CHECK(!agent);
    return;
  }
  REQUIRE(agent->kind != store_kind::sqlite);
  auto services = std::getenv("JM_TEST_SERVICES_DIR");
  REQUIRE(services != nullptr);
  std::string server
    = agent->kind == store_kind::postgres ? "postgres" : "mariadb";
  start_node();
  auto file = dir / "runs.txt";
  auto batch = [&] {
    return schedule_many({"record", "--count", "100", "--data",
                          "file=" + file.string(), "--data", "ms:int=2"});
  };
  std::vector<job_id> ids = batch();
  // Restart the agent's server while batches keep coming: each must be
  // taken (by the agent store, or by the master store while it is away).
  std::atomic<bool> restarted{false};
  jm::test::run_result restart;
  std::thread restarter{[&] {
    restart = jm::test::run(
      {JM_SOURCE_DIR "/tools/test-services.sh", "restart", services, server});
    restarted = true;
  }};
  size_t during = 0;
  while (!restarted) {
    auto more = batch();
    ids.insert(ids.end(), more.begin(), more.end());
    ++during;
  }
  restarter.join();
  if (restart.exit_code != 0)
    FAIL("restarting " << server << " failed: " << restart.err);
  for (int i = 0; i < 5; ++i) {
    auto more = batch();
    ids.insert(ids.end(), more.begin(), more.end());
  }
  MESSAGE(during << " batches scheduled while " << server << " restarted; "
                 << ids.size() << " jobs in all");
  CHECK(during > 0);
  auto c = client();
  bool done = jm::test::eventually(
    [&] {
      job_filter f;
      f.limit = 100000;
      auto r = reply_as<std::vector<job>>(c->call(request{f}));
      return r && r->size() == ids.size()
             && std::all_of(r->begin(), r->end(),
                            [](const job& x) { return is_final(x.status); });
    },
    120s, 200ms);
  if (!done)
    FAIL("not every job is final" << stuck_report()
                                  << server_log_tail(services, server));
  for (auto& x : all_jobs(*c))
    CHECK_EQUAL(x.status, job_status::succeeded);
  auto runs = recorded(file);
  CHECK_EQUAL(runs.size(), ids.size());
  for (auto& [id, k] : runs)
    CHECK_EQUAL(k, 1);
  // Nothing stays behind in the agent store: a push that committed while
  // its answer was lost left copies of jobs the master store took instead;
  // the next moves (a claim, a rescue round) drop them without a run.
  auto queue = unbox(open_store(*agent));
  CHECK(jm::test::eventually(
    [&] {
      auto left = queue.queue->pending_buckets();
      return left && left->empty();
    },
    40s, 200ms));
  for (auto& [id, k] : recorded(file))
    CHECK_EQUAL(k, 1);
}

CAF_TEST_FIXTURE_SCOPE_END()
