// Writes the seed corpus of the wire_decode fuzz target: one file per
// encoded message (requests, replies, jobs and value maps of every kind).
// Not a test; run it by hand when the schemas change:
//
//   cmake --build BUILD --target fuzz-wire-seeds
//   BUILD/fuzz/fuzz-wire-seeds fuzz/corpus/wire_decode
//
// File names are stable (seed-<kind>-<n>), so rerunning it overwrites the
// same files. Values are fixed (no clocks, no random ids).

#include "messages/codec.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>

namespace {

namespace fs = std::filesystem;

jm::uuid make_id(uint8_t seed) {
  jm::uuid id;
  for (size_t i = 0; i < id.bytes.size(); ++i)
    id.bytes[i] = static_cast<uint8_t>(seed + i * 17);
  id.bytes[6] = static_cast<uint8_t>((id.bytes[6] & 0x0f) | 0x40);
  id.bytes[8] = static_cast<uint8_t>((id.bytes[8] & 0x3f) | 0x80);
  return id;
}

jm::timestamp at(int64_t us) {
  return jm::from_micros(us);
}

jm::value_map all_values() {
  jm::value_map m;
  m["s"] = std::string{"hello"};
  m["empty"] = std::string{};
  m["i"] = int64_t{-42};
  m["max"] = std::numeric_limits<int64_t>::max();
  m["d"] = 1.5;
  m["b"] = true;
  m["t"] = at(1'764'324'000'123'456);
  m["raw"] = jm::bytes{0xde, 0xad, 0xbe, 0xef};
  m["id"] = make_id(7);
  return m;
}

jm::job make_job(uint8_t seed, bool full) {
  jm::job j;
  j.id = make_id(seed);
  j.handler = "send-mail";
  j.status = full ? jm::job_status::processing : jm::job_status::held_on_master;
  j.priority = full ? jm::priority::critical : jm::priority::medium;
  j.source
    = full ? jm::trigger_source::dynamic_recurring : jm::trigger_source::once;
  j.original_scheduled_at = at(1'764'324'000'000'000);
  j.scheduled_at = at(1'764'324'060'000'000);
  j.created_at = at(1'764'323'990'000'000);
  j.timeout = jm::duration{30'000'000};
  if (full) {
    j.lane = "gpu";
    j.max_retries = 3;
    j.failure_count = 1;
    j.data = all_values();
    j.metadata["trace"] = std::string{"abc"};
    j.recurring_schedule_id = make_id(99);
    j.bucket_id = "bucket-3";
    j.worker_id = "node-a/w1";
    j.process_deadline = at(1'764'324'120'000'000);
    j.version = 17;
  }
  return j;
}

struct writer {
  fs::path dir;
  int count = 0;

  void operator()(const std::string& kind, const jm::bytes& data) {
    auto path = dir / ("seed-" + kind + "-" + std::to_string(count++));
    std::ofstream out{path, std::ios::binary};
    out.write(reinterpret_cast<const char*>(data.data()),
              static_cast<std::streamsize>(data.size()));
  }
};

} // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 1;
  }
  writer w{argv[1]};
  fs::create_directories(w.dir);
  // -- requests
  jm::job_spec minimal;
  minimal.handler = "noop";
  jm::job_spec full;
  full.handler = "send-mail";
  full.data = all_values();
  full.metadata["tenant"] = std::string{"acme"};
  full.run_at = at(1'764'324'000'000'000);
  full.after = jm::duration{5'000'000};
  full.priority = jm::priority::high;
  full.lane = "gpu";
  full.timeout = jm::duration{60'000'000};
  full.max_retries = 2;
  w("request", jm::encode(jm::request{std::vector<jm::job_spec>{minimal}}));
  w("request",
    jm::encode(jm::request{std::vector<jm::job_spec>{full, minimal}}));
  w("request", jm::encode(jm::request{jm::cancel_request{make_id(1)}}));
  w("request", jm::encode(jm::request{jm::reschedule_request{
                 make_id(2), at(1'764'324'000'000'000)}}));
  jm::job_filter filter;
  filter.statuses = {jm::job_status::queued, jm::job_status::failed};
  filter.handler = "send-mail";
  filter.lane = "gpu";
  filter.limit = 10;
  filter.scheduled_from = at(1'764'320'000'000'000);
  filter.scheduled_to = at(1'764'330'000'000'000);
  w("request", jm::encode(jm::request{filter}));
  w("request", jm::encode(jm::request{jm::job_filter{}}));
  w("request", jm::encode(jm::request{jm::get_job_request{make_id(3)}}));
  w("request", jm::encode(jm::request{jm::ping_request{}}));
  // -- replies
  w("reply",
    jm::encode(jm::reply{jm::error_reply{jm::ec::unknown_job, "no job 42"}}));
  w("reply",
    jm::encode(jm::reply{std::vector<jm::job_id>{make_id(4), make_id(5)}}));
  w("reply", jm::encode(jm::reply{jm::done_reply{}}));
  w("reply", jm::encode(jm::reply{
               std::vector<jm::job>{make_job(6, false), make_job(7, true)}}));
  jm::job_detail detail{make_job(8, true), {}};
  jm::attempt a;
  a.job = detail.job.id;
  a.number = 1;
  a.worker_id = "node-a/w1";
  a.started_at = at(1'764'324'000'000'000);
  a.ended_at = at(1'764'324'001'000'000);
  a.outcome = jm::attempt_outcome::failed;
  a.error = "boom";
  detail.attempts.push_back(a);
  a.number = 2;
  a.outcome = jm::attempt_outcome::succeeded;
  a.error.clear();
  detail.attempts.push_back(a);
  w("reply", jm::encode(jm::reply{detail}));
  w("reply", jm::encode(jm::reply{jm::pong_reply{"prod-eu"}}));
  // -- jobs and value maps
  w("job", jm::encode(make_job(9, false)));
  w("job", jm::encode(make_job(10, true)));
  w("values", jm::encode(jm::value_map{}));
  w("values", jm::encode(all_values()));
  std::printf("wrote %d seeds to %s\n", w.count, w.dir.c_str());
  return 0;
}
