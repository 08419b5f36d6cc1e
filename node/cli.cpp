#include "node/cli.hpp"

#include "messages/error.hpp"

#include <charconv>
#include <tuple>

namespace jm::cli {

namespace {

caf::error bad(std::string text) {
  return make_error(ec::invalid_argument, std::move(text));
}

caf::error read_pairs(const std::vector<std::string>& xs, value_map& out,
                      std::string_view option) {
  for (auto& x : xs) {
    auto kv = parse_key_value(x);
    if (!kv)
      return bad(std::string{option} + ": " + describe(kv.error()));
    if (!out.emplace(std::move(kv->first), std::move(kv->second)).second)
      return bad(std::string{option} + ": key given twice in '" + x + "'");
  }
  return {};
}

} // namespace

caf::expected<timestamp> parse_when(const std::string& text) {
  if (text == "now")
    return now();
  if (!text.empty() && text[0] == '+') {
    auto d = parse_duration(std::string_view{text}.substr(1));
    if (!d)
      return d.error();
    return now() + *d;
  }
  return parse_timestamp(text);
}

caf::expected<job_spec> make_spec(const schedule_args& args) {
  job_spec spec;
  if (args.handler.empty())
    return bad("missing handler name");
  spec.handler = args.handler;
  if (auto err = read_pairs(args.data, spec.data, "--data"))
    return err;
  if (auto err = read_pairs(args.metadata, spec.metadata, "--metadata"))
    return err;
  if (!args.at.empty() && !args.after.empty())
    return bad("--at and --after exclude each other");
  if (!args.at.empty()) {
    auto t = parse_when(args.at);
    if (!t)
      return bad("--at: " + describe(t.error()));
    spec.run_at = *t;
  }
  if (!args.after.empty()) {
    auto d = parse_duration(args.after);
    if (!d)
      return bad("--after: " + describe(d.error()));
    spec.after = *d;
  }
  if (!args.priority.empty()) {
    auto p = parse_priority(args.priority);
    if (!p)
      return bad("--priority: " + describe(p.error()));
    spec.priority = *p;
  }
  if (args.lane_set)
    spec.lane = args.lane;
  if (!args.timeout.empty()) {
    auto d = parse_duration(args.timeout);
    if (!d)
      return bad("--timeout: " + describe(d.error()));
    spec.timeout = *d;
  }
  if (args.max_retries != -1) {
    if (args.max_retries < 0)
      return bad("--max-retries: must not be negative");
    spec.max_retries = args.max_retries;
  }
  return spec;
}

bool is_recurring(const schedule_args& args) {
  return !args.every.empty() || !args.interval.empty();
}

caf::expected<recurring_spec> make_recurring_spec(const schedule_args& args) {
  if (!args.every.empty() && !args.interval.empty())
    return bad("--every and --interval exclude each other");
  if (!args.at.empty() || !args.after.empty())
    return bad("--at and --after are for one-off jobs; a recurring schedule "
               "starts with --start-after");
  // The job fields are the one-off job's.
  auto job = make_spec(args);
  if (!job)
    return job.error();
  recurring_spec spec;
  spec.handler = std::move(job->handler);
  spec.data = std::move(job->data);
  spec.metadata = std::move(job->metadata);
  spec.priority = job->priority;
  spec.lane = std::move(job->lane);
  spec.timeout = job->timeout;
  spec.max_retries = job->max_retries;
  if (!args.every.empty()) {
    spec.expression_type = expression_types::natural_cron;
    spec.expression = args.every;
  } else {
    spec.expression_type = expression_types::interval;
    spec.expression = args.interval;
  }
  spec.time_zone = args.tz;
  for (auto [name, text, slot] :
       {std::tuple{"--start-after", &args.start_after, &spec.start_after},
        std::tuple{"--end-before", &args.end_before, &spec.end_before}}) {
    if (text->empty())
      continue;
    auto t = parse_when(*text);
    if (!t)
      return bad(std::string{name} + ": " + describe(t.error()));
    *slot = *t;
  }
  if (!args.catch_up.empty()) {
    auto p = parse_catch_up_policy(args.catch_up);
    if (!p)
      return bad("--catch-up: " + describe(p.error()));
    spec.catch_up = *p;
  }
  spec.catch_up_limit = args.catch_up_limit;
  if (!args.overlap.empty()) {
    auto p = parse_overlap_policy(args.overlap);
    if (!p)
      return bad("--overlap: " + describe(p.error()));
    spec.overlap = *p;
  }
  return spec;
}

caf::expected<std::pair<std::string, uint16_t>>
parse_endpoint(const std::string& text, bool allow_port_zero) {
  std::string host = "127.0.0.1";
  uint16_t port = 4710;
  auto colon = text.rfind(':');
  if (colon == std::string::npos) {
    if (!text.empty())
      host = text;
    return std::make_pair(host, port);
  }
  if (colon > 0)
    host = text.substr(0, colon);
  auto digits = std::string_view{text}.substr(colon + 1);
  unsigned value = 0;
  auto [p, e]
    = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (e != std::errc{} || p != digits.data() + digits.size()
      || (value == 0 && !allow_port_zero) || value > 65535)
    return bad("invalid node address '" + text
               + "': expected host:port, e.g. 127.0.0.1:4710");
  return std::make_pair(host, static_cast<uint16_t>(value));
}

} // namespace jm::cli
