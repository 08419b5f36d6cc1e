#define CAF_SUITE node.server_restart
#include "tests/support/test.hpp"

#include "tests/node/node_fixture.hpp"

#include <set>

// A database server restart in the middle of a run: a node on PostgreSQL or
// MariaDB (JM_E2E_STORE) keeps going once the server is back, and every job
// succeeds; none is lost. The server is one that tools/test-services.sh
// started (JM_TEST_SERVICES_DIR); the test restarts it with that script.

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
    FAIL("not every job is final; log: " << log_tail());
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

CAF_TEST_FIXTURE_SCOPE_END()
