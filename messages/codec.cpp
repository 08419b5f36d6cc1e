#include "messages/codec.hpp"

#include "messages/api.capnp.h"
#include "messages/error.hpp"
#include "messages/job.capnp.h"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/array.h>
#include <kj/exception.h>

#include <cstring>

namespace jm {

namespace {

// Small first segment: the default (1024 words) would zero 8 KiB per job.
constexpr unsigned first_segment_words = 64;

// Bounds what a hostile message can make the reader walk: 64 MiB, depth 32.
capnp::ReaderOptions reader_options() {
  capnp::ReaderOptions opts;
  opts.traversalLimitInWords = 8 * 1024 * 1024;
  opts.nestingLimit = 32;
  return opts;
}

bytes to_bytes(capnp::MessageBuilder& mb) {
  auto words = capnp::messageToFlatArray(mb);
  auto chars = words.asBytes();
  return bytes(chars.begin(), chars.end());
}

// Runs `f` on a reader over `buf`. Cap'n Proto needs 8-byte aligned words,
// so unaligned or odd-sized input is copied first.
template <class Root, class F>
auto with_reader(std::span<const uint8_t> buf, F&& f)
  -> decltype(f(std::declval<typename Root::Reader>())) {
  if (buf.empty() || buf.size() % sizeof(capnp::word) != 0)
    return make_error(ec::malformed_message,
                      "malformed message: size " + std::to_string(buf.size())
                        + " is not a positive multiple of 8");
  kj::Array<capnp::word> copy;
  kj::ArrayPtr<const capnp::word> words;
  if (reinterpret_cast<uintptr_t>(buf.data()) % alignof(capnp::word) != 0) {
    copy = kj::heapArray<capnp::word>(buf.size() / sizeof(capnp::word));
    std::memcpy(copy.begin(), buf.data(), buf.size());
    words = kj::ArrayPtr<const capnp::word>(copy.begin(), copy.size());
  } else {
    words = {reinterpret_cast<const capnp::word*>(buf.data()),
             buf.size() / sizeof(capnp::word)};
  }
  try {
    capnp::FlatArrayMessageReader reader{words, reader_options()};
    return f(reader.getRoot<Root>());
  } catch (const kj::Exception& e) {
    return make_error(ec::malformed_message, std::string{"malformed message: "}
                                               + e.getDescription().cStr());
  }
}

caf::error malformed(std::string what) {
  return make_error(ec::malformed_message, "malformed message: " + what);
}

// Text crosses with its length: a std::string may hold NUL bytes, which a
// conversion through c_str() would cut off.
kj::StringPtr text(const std::string& x) {
  return kj::StringPtr{x.data(), x.size()};
}

std::string str(capnp::Text::Reader x) {
  return std::string{x.begin(), x.size()};
}

// Bounds what one message can make a decoder build: a list of empty structs
// costs the sender nothing per element.
constexpr size_t max_list_size = 100'000;

// Decodes every element of a Cap'n Proto list, stopping at the first error.
template <class T, class List, class Read>
caf::expected<std::vector<T>> read_each(List xs, Read read) {
  if (xs.size() > max_list_size)
    return make_error(ec::malformed_message,
                      "malformed message: a list of "
                        + std::to_string(xs.size()) + " elements (at most "
                        + std::to_string(max_list_size) + ")");
  std::vector<T> result;
  // Not xs.size(): that is what the sender claims, not what it sent.
  result.reserve(std::min<size_t>(xs.size(), 64));
  for (auto x : xs) {
    auto value = read(x);
    if (!value)
      return value.error();
    result.push_back(std::move(*value));
  }
  return result;
}

// -- ids ----------------------------------------------------------------------

kj::ArrayPtr<const kj::byte> as_data(const uuid& x) {
  return {x.bytes.data(), x.bytes.size()};
}

caf::expected<uuid> read_uuid(capnp::Data::Reader data) {
  if (data.size() != 16)
    return malformed("an id has " + std::to_string(data.size())
                     + " bytes instead of 16");
  uuid result;
  std::memcpy(result.bytes.data(), data.begin(), 16);
  return result;
}

// -- values -------------------------------------------------------------------

void write_values(const value_map& xs, wire::ValueMap::Builder out) {
  auto entries = out.initEntries(static_cast<unsigned>(xs.size()));
  unsigned i = 0;
  for (auto& [key, val] : xs) {
    auto e = entries[i++];
    e.setKey(text(key));
    auto v = e.initValue();
    struct visitor {
      wire::Value::Builder& v;
      void operator()(const std::string& s) { v.setText(text(s)); }
      void operator()(int64_t n) { v.setInt(n); }
      void operator()(double d) { v.setDouble(d); }
      void operator()(bool b) { v.setBool(b); }
      void operator()(timestamp t) { v.setTimestampUs(to_micros(t)); }
      void operator()(const bytes& b) { v.setBytes({b.data(), b.size()}); }
      void operator()(const uuid& u) { v.setUuid(as_data(u)); }
    };
    std::visit(visitor{v}, val);
  }
}

caf::expected<value_map> read_values(wire::ValueMap::Reader in) {
  value_map result;
  for (auto e : in.getEntries()) {
    auto key = str(e.getKey());
    if (key.empty())
      return malformed("empty key in a value map");
    auto v = e.getValue();
    value val;
    switch (v.which()) {
    case wire::Value::TEXT:
      val = str(v.getText());
      break;
    case wire::Value::INT:
      val = v.getInt();
      break;
    case wire::Value::DOUBLE:
      val = v.getDouble();
      break;
    case wire::Value::BOOL:
      val = v.getBool();
      break;
    case wire::Value::TIMESTAMP_US:
      val = from_micros(v.getTimestampUs());
      break;
    case wire::Value::BYTES: {
      auto d = v.getBytes();
      val = bytes(d.begin(), d.end());
      break;
    }
    case wire::Value::UUID: {
      auto u = read_uuid(v.getUuid());
      if (!u)
        return u.error();
      val = *u;
      break;
    }
    default:
      return malformed("unknown value type in entry '" + key + "'");
    }
    if (!result.emplace(std::move(key), std::move(val)).second)
      return malformed("duplicate key in a value map");
  }
  return result;
}

// -- jobs ---------------------------------------------------------------------

void write_job(const job& x, wire::Job::Builder out) {
  out.setId(as_data(x.id));
  out.setHandler(text(x.handler));
  out.setStatus(static_cast<wire::JobStatus>(x.status));
  out.setPriority(static_cast<uint8_t>(x.priority));
  out.setSource(static_cast<uint8_t>(x.source));
  out.setLane(text(x.lane));
  out.setOriginalScheduledAtUs(to_micros(x.original_scheduled_at));
  out.setScheduledAtUs(to_micros(x.scheduled_at));
  out.setCreatedAtUs(to_micros(x.created_at));
  out.setTimeoutUs(x.timeout.count());
  out.setMaxRetries(x.max_retries);
  out.setFailureCount(x.failure_count);
  write_values(x.data, out.initData());
  write_values(x.metadata, out.initMetadata());
  if (x.recurring_schedule_id)
    out.setRecurringScheduleId(as_data(*x.recurring_schedule_id));
  out.setBucketId(text(x.bucket_id));
  out.setWorkerId(text(x.worker_id));
  out.setProcessDeadlineUs(x.process_deadline ? to_micros(*x.process_deadline)
                                              : 0);
  out.setVersion(x.version);
  out.setSkipIfRunning(x.skip_if_running);
}

caf::expected<job> read_job(wire::Job::Reader in) {
  job x;
  auto id = read_uuid(in.getId());
  if (!id)
    return id.error();
  x.id = *id;
  x.handler = str(in.getHandler());
  // Checked at full width: 257 must not wrap to a valid status.
  auto status = static_cast<uint16_t>(in.getStatus());
  if (status < 1 || status > 8)
    return malformed("job status " + std::to_string(status));
  x.status = static_cast<job_status>(status);
  auto prio = in.getPriority();
  if (prio < 1 || prio > num_priorities)
    return malformed("job priority " + std::to_string(prio));
  x.priority = static_cast<priority>(prio);
  auto source = in.getSource();
  if (source < 1 || source > 3)
    return malformed("job source " + std::to_string(source));
  x.source = static_cast<trigger_source>(source);
  x.lane = str(in.getLane());
  x.original_scheduled_at = from_micros(in.getOriginalScheduledAtUs());
  x.scheduled_at = from_micros(in.getScheduledAtUs());
  x.created_at = from_micros(in.getCreatedAtUs());
  x.timeout = duration{in.getTimeoutUs()};
  x.max_retries = in.getMaxRetries();
  x.failure_count = in.getFailureCount();
  auto data = read_values(in.getData());
  if (!data)
    return data.error();
  x.data = std::move(*data);
  auto meta = read_values(in.getMetadata());
  if (!meta)
    return meta.error();
  x.metadata = std::move(*meta);
  if (in.hasRecurringScheduleId() && in.getRecurringScheduleId().size() > 0) {
    auto rid = read_uuid(in.getRecurringScheduleId());
    if (!rid)
      return rid.error();
    x.recurring_schedule_id = *rid;
  }
  x.bucket_id = str(in.getBucketId());
  x.worker_id = str(in.getWorkerId());
  if (auto d = in.getProcessDeadlineUs(); d != 0)
    x.process_deadline = from_micros(d);
  x.version = in.getVersion();
  x.skip_if_running = in.getSkipIfRunning();
  return x;
}

void write_attempt(const attempt& x, wire::Attempt::Builder out) {
  out.setNumber(x.number);
  out.setWorkerId(text(x.worker_id));
  out.setStartedAtUs(to_micros(x.started_at));
  out.setEndedAtUs(to_micros(x.ended_at));
  out.setOutcome(static_cast<uint8_t>(x.outcome));
  out.setError(text(x.error));
}

caf::expected<attempt> read_attempt(const job_id& id,
                                    wire::Attempt::Reader in) {
  attempt x;
  x.job = id;
  x.number = in.getNumber();
  x.worker_id = str(in.getWorkerId());
  x.started_at = from_micros(in.getStartedAtUs());
  x.ended_at = from_micros(in.getEndedAtUs());
  auto outcome = in.getOutcome();
  if (outcome < 1 || outcome > 5)
    return malformed("attempt outcome " + std::to_string(outcome));
  x.outcome = static_cast<attempt_outcome>(outcome);
  x.error = str(in.getError());
  return x;
}

// -- requests -----------------------------------------------------------------

// The job settings a `JobSpec` and a `RecurringSpec` share (same field
// names): data, metadata, and the optional priority, lane, timeout and
// retries.
template <class Spec, class Builder>
void write_job_settings(const Spec& x, Builder out) {
  write_values(x.data, out.initData());
  write_values(x.metadata, out.initMetadata());
  out.setPriority(x.priority ? static_cast<uint8_t>(*x.priority) : 0);
  if (x.lane) {
    out.setHasLane(true);
    out.setLane(text(*x.lane));
  }
  out.setTimeoutUs(x.timeout ? x.timeout->count() : 0);
  out.setMaxRetries(x.max_retries ? *x.max_retries : -1);
}

template <class Reader, class Spec>
caf::error read_job_settings(Reader in, Spec& x) {
  auto data = read_values(in.getData());
  if (!data)
    return data.error();
  x.data = std::move(*data);
  auto meta = read_values(in.getMetadata());
  if (!meta)
    return meta.error();
  x.metadata = std::move(*meta);
  if (auto p = in.getPriority(); p != 0) {
    if (p > num_priorities)
      return malformed("priority " + std::to_string(p));
    x.priority = static_cast<priority>(p);
  }
  if (in.getHasLane())
    x.lane = str(in.getLane());
  if (auto t = in.getTimeoutUs(); t != 0)
    x.timeout = duration{t};
  if (auto r = in.getMaxRetries(); r != -1)
    x.max_retries = r;
  return {};
}

void write_spec(const job_spec& x, wire::JobSpec::Builder out) {
  out.setHandler(text(x.handler));
  write_job_settings(x, out);
  if (x.run_at) {
    out.setHasRunAt(true);
    out.setRunAtUs(to_micros(*x.run_at));
  }
  if (x.after) {
    out.setHasAfter(true);
    out.setAfterUs(x.after->count());
  }
}

caf::expected<job_spec> read_spec(wire::JobSpec::Reader in) {
  job_spec x;
  x.handler = str(in.getHandler());
  if (x.handler.empty())
    return malformed("a job spec without a handler");
  if (auto err = read_job_settings(in, x))
    return err;
  if (in.getHasRunAt())
    x.run_at = from_micros(in.getRunAtUs());
  if (in.getHasAfter())
    x.after = duration{in.getAfterUs()};
  return x;
}

void write_recurring_spec(const recurring_spec& x,
                          wire::RecurringSpec::Builder out) {
  out.setHandler(text(x.handler));
  out.setExpressionType(text(x.expression_type));
  out.setExpression(text(x.expression));
  out.setTimeZone(text(x.time_zone));
  write_job_settings(x, out);
  if (x.start_after) {
    out.setHasStartAfter(true);
    out.setStartAfterUs(to_micros(*x.start_after));
  }
  if (x.end_before) {
    out.setHasEndBefore(true);
    out.setEndBeforeUs(to_micros(*x.end_before));
  }
  out.setCatchUp(static_cast<uint8_t>(x.catch_up));
  out.setCatchUpLimit(x.catch_up_limit);
  out.setOverlap(static_cast<uint8_t>(x.overlap));
  out.setStaticName(text(x.static_name));
}

caf::expected<recurring_spec>
read_recurring_spec(wire::RecurringSpec::Reader in) {
  recurring_spec x;
  x.handler = str(in.getHandler());
  if (x.handler.empty())
    return malformed("a recurring schedule without a handler");
  x.expression_type = str(in.getExpressionType());
  x.expression = str(in.getExpression());
  x.time_zone = str(in.getTimeZone());
  if (auto err = read_job_settings(in, x))
    return err;
  if (in.getHasStartAfter())
    x.start_after = from_micros(in.getStartAfterUs());
  if (in.getHasEndBefore())
    x.end_before = from_micros(in.getEndBeforeUs());
  auto catch_up = in.getCatchUp();
  if (catch_up < 1 || catch_up > 3)
    return malformed("catch-up policy " + std::to_string(catch_up));
  x.catch_up = static_cast<catch_up_policy>(catch_up);
  x.catch_up_limit = in.getCatchUpLimit();
  auto overlap = in.getOverlap();
  if (overlap < 1 || overlap > 2)
    return malformed("overlap policy " + std::to_string(overlap));
  x.overlap = static_cast<overlap_policy>(overlap);
  x.static_name = str(in.getStaticName());
  return x;
}

void write_schedule(const recurring_schedule& x, wire::Schedule::Builder out) {
  out.setId(as_data(x.id));
  write_recurring_spec(x.spec, out.initSpec());
  out.setStatus(static_cast<uint8_t>(x.status));
  out.setCreatedAtUs(to_micros(x.created_at));
  out.setTerminatedAtUs(x.terminated_at ? to_micros(*x.terminated_at) : 0);
  out.setCursorUs(to_micros(x.cursor));
  out.setPlannedUntilUs(to_micros(x.planned_until));
  out.setEnsuredAtUs(x.ensured_at ? to_micros(*x.ensured_at) : 0);
  out.setVersion(x.version);
}

caf::expected<recurring_schedule> read_schedule(wire::Schedule::Reader in) {
  recurring_schedule x;
  auto id = read_uuid(in.getId());
  if (!id)
    return id.error();
  x.id = *id;
  auto spec = read_recurring_spec(in.getSpec());
  if (!spec)
    return spec.error();
  x.spec = std::move(*spec);
  auto status = in.getStatus();
  if (status < 2 || status > 5)
    return malformed("schedule status " + std::to_string(status));
  x.status = static_cast<schedule_status>(status);
  x.created_at = from_micros(in.getCreatedAtUs());
  if (auto t = in.getTerminatedAtUs(); t != 0)
    x.terminated_at = from_micros(t);
  x.cursor = from_micros(in.getCursorUs());
  x.planned_until = from_micros(in.getPlannedUntilUs());
  if (auto t = in.getEnsuredAtUs(); t != 0)
    x.ensured_at = from_micros(t);
  x.version = in.getVersion();
  return x;
}

template <class Builder>
void write_jobs(const std::vector<job>& jobs, Builder list) {
  for (unsigned i = 0; i < jobs.size(); ++i)
    write_job(jobs[i], list[i]);
}

} // namespace

bytes encode(const request& x) {
  capnp::MallocMessageBuilder mb{first_segment_words};
  auto root = mb.initRoot<wire::Request>();
  struct visitor {
    wire::Request::Builder& root;
    void operator()(const std::vector<job_spec>& specs) {
      auto list = root.initSchedule(static_cast<unsigned>(specs.size()));
      for (unsigned i = 0; i < specs.size(); ++i)
        write_spec(specs[i], list[i]);
    }
    void operator()(const cancel_request& r) { root.setCancel(as_data(r.id)); }
    void operator()(const reschedule_request& r) {
      auto g = root.initReschedule();
      g.setId(as_data(r.id));
      g.setRunAtUs(to_micros(r.run_at));
    }
    void operator()(const job_filter& f) {
      auto q = root.initListJobs();
      auto statuses = q.initStatuses(static_cast<unsigned>(f.statuses.size()));
      for (unsigned i = 0; i < f.statuses.size(); ++i)
        statuses.set(i, static_cast<uint8_t>(f.statuses[i]));
      q.setHandler(text(f.handler));
      q.setLane(text(f.lane));
      q.setLimit(f.limit);
      if (f.scheduled_from) {
        q.setHasFrom(true);
        q.setFromUs(to_micros(*f.scheduled_from));
      }
      if (f.scheduled_to) {
        q.setHasTo(true);
        q.setToUs(to_micros(*f.scheduled_to));
      }
      if (f.schedule_id)
        q.setScheduleId(as_data(*f.schedule_id));
      write_values(f.metadata, q.initMetadata());
    }
    void operator()(const get_job_request& r) { root.setGetJob(as_data(r.id)); }
    void operator()(const ping_request&) { root.setPing(); }
    void operator()(const recurring_spec& spec) {
      write_recurring_spec(spec, root.initRecurring());
    }
    void operator()(const schedule_filter& f) {
      auto q = root.initListSchedules();
      auto statuses = q.initStatuses(static_cast<unsigned>(f.statuses.size()));
      for (unsigned i = 0; i < f.statuses.size(); ++i)
        statuses.set(i, static_cast<uint8_t>(f.statuses[i]));
      q.setHandler(text(f.handler));
      q.setLimit(f.limit);
    }
    void operator()(const get_schedule_request& r) {
      root.setGetSchedule(as_data(r.id));
    }
    void operator()(const cancel_schedule_request& r) {
      root.setCancelSchedule(as_data(r.id));
    }
    void operator()(const run_schedule_now_request& r) {
      root.setRunScheduleNow(as_data(r.id));
    }
  };
  std::visit(visitor{root}, x);
  return to_bytes(mb);
}

caf::expected<request> decode_request(std::span<const uint8_t> buf) {
  return with_reader<wire::Request>(
    buf, [](wire::Request::Reader in) -> caf::expected<request> {
      switch (in.which()) {
      case wire::Request::SCHEDULE: {
        auto specs = read_each<job_spec>(in.getSchedule(), read_spec);
        if (!specs)
          return specs.error();
        return request{std::move(*specs)};
      }
      case wire::Request::CANCEL: {
        auto id = read_uuid(in.getCancel());
        if (!id)
          return id.error();
        return request{cancel_request{*id}};
      }
      case wire::Request::RESCHEDULE: {
        auto g = in.getReschedule();
        auto id = read_uuid(g.getId());
        if (!id)
          return id.error();
        return request{reschedule_request{*id, from_micros(g.getRunAtUs())}};
      }
      case wire::Request::LIST_JOBS: {
        auto q = in.getListJobs();
        job_filter f;
        if (q.getStatuses().size() > 16)
          return malformed("too many statuses in a job query");
        for (auto s : q.getStatuses()) {
          if (s < 1 || s > 8)
            return malformed("status " + std::to_string(s));
          f.statuses.push_back(static_cast<job_status>(s));
        }
        f.handler = str(q.getHandler());
        f.lane = str(q.getLane());
        f.limit = q.getLimit();
        if (q.getHasFrom())
          f.scheduled_from = from_micros(q.getFromUs());
        if (q.getHasTo())
          f.scheduled_to = from_micros(q.getToUs());
        if (q.getScheduleId().size() > 0) {
          auto id = read_uuid(q.getScheduleId());
          if (!id)
            return id.error();
          f.schedule_id = *id;
        }
        auto meta = read_values(q.getMetadata());
        if (!meta)
          return meta.error();
        f.metadata = std::move(*meta);
        return request{std::move(f)};
      }
      case wire::Request::GET_JOB: {
        auto id = read_uuid(in.getGetJob());
        if (!id)
          return id.error();
        return request{get_job_request{*id}};
      }
      case wire::Request::PING:
        return request{ping_request{}};
      case wire::Request::RECURRING: {
        auto spec = read_recurring_spec(in.getRecurring());
        if (!spec)
          return spec.error();
        return request{std::move(*spec)};
      }
      case wire::Request::LIST_SCHEDULES: {
        auto q = in.getListSchedules();
        schedule_filter f;
        if (q.getStatuses().size() > 16)
          return malformed("too many statuses in a schedule query");
        for (auto s : q.getStatuses()) {
          if (s < 2 || s > 5)
            return malformed("schedule status " + std::to_string(s));
          f.statuses.push_back(static_cast<schedule_status>(s));
        }
        f.handler = str(q.getHandler());
        f.limit = q.getLimit();
        return request{std::move(f)};
      }
      case wire::Request::GET_SCHEDULE: {
        auto id = read_uuid(in.getGetSchedule());
        if (!id)
          return id.error();
        return request{get_schedule_request{*id}};
      }
      case wire::Request::CANCEL_SCHEDULE: {
        auto id = read_uuid(in.getCancelSchedule());
        if (!id)
          return id.error();
        return request{cancel_schedule_request{*id}};
      }
      case wire::Request::RUN_SCHEDULE_NOW: {
        auto id = read_uuid(in.getRunScheduleNow());
        if (!id)
          return id.error();
        return request{run_schedule_now_request{*id}};
      }
      }
      return malformed("unknown request kind");
    });
}

bytes encode(const reply& x) {
  capnp::MallocMessageBuilder mb{first_segment_words};
  auto root = mb.initRoot<wire::Reply>();
  struct visitor {
    wire::Reply::Builder& root;
    void operator()(const error_reply& e) {
      auto g = root.initError();
      g.setCode(static_cast<uint8_t>(e.code));
      g.setText(text(e.text));
    }
    void operator()(const std::vector<job_id>& ids) {
      auto list = root.initScheduled(static_cast<unsigned>(ids.size()));
      for (unsigned i = 0; i < ids.size(); ++i)
        list.set(i, as_data(ids[i]));
    }
    void operator()(const done_reply&) { root.setDone(); }
    void operator()(const std::vector<job>& jobs) {
      write_jobs(jobs, root.initJobs(static_cast<unsigned>(jobs.size())));
    }
    void operator()(const job_detail& d) {
      auto out = root.initDetail();
      write_job(d.job, out.initJob());
      auto list = out.initAttempts(static_cast<unsigned>(d.attempts.size()));
      for (unsigned i = 0; i < d.attempts.size(); ++i)
        write_attempt(d.attempts[i], list[i]);
    }
    void operator()(const pong_reply& p) { root.setPong(text(p.cluster_id)); }
    void operator()(const std::vector<recurring_schedule>& xs) {
      auto list = root.initSchedules(static_cast<unsigned>(xs.size()));
      for (unsigned i = 0; i < xs.size(); ++i)
        write_schedule(xs[i], list[i]);
    }
    void operator()(const schedule_detail& d) {
      auto out = root.initScheduleDetail();
      write_schedule(d.schedule, out.initSchedule());
      write_jobs(d.jobs, out.initJobs(static_cast<unsigned>(d.jobs.size())));
      auto up = out.initUpcoming(static_cast<unsigned>(d.upcoming.size()));
      for (unsigned i = 0; i < d.upcoming.size(); ++i)
        up.set(i, to_micros(d.upcoming[i]));
    }
    void operator()(const cancelled_reply& c) { root.setCancelled(c.jobs); }
  };
  std::visit(visitor{root}, x);
  return to_bytes(mb);
}

caf::expected<reply> decode_reply(std::span<const uint8_t> buf) {
  return with_reader<wire::Reply>(
    buf, [](wire::Reply::Reader in) -> caf::expected<reply> {
      switch (in.which()) {
      case wire::Reply::ERROR: {
        auto g = in.getError();
        auto code = g.getCode();
        if (code == 0 || code > static_cast<uint8_t>(ec::unknown_schedule))
          return malformed("unknown error code " + std::to_string(code));
        return reply{error_reply{static_cast<ec>(code), str(g.getText())}};
      }
      case wire::Reply::SCHEDULED: {
        auto ids = read_each<job_id>(in.getScheduled(), read_uuid);
        if (!ids)
          return ids.error();
        return reply{std::move(*ids)};
      }
      case wire::Reply::DONE:
        return reply{done_reply{}};
      case wire::Reply::JOBS: {
        auto jobs = read_each<job>(in.getJobs(), read_job);
        if (!jobs)
          return jobs.error();
        return reply{std::move(*jobs)};
      }
      case wire::Reply::DETAIL: {
        auto d = in.getDetail();
        auto x = read_job(d.getJob());
        if (!x)
          return x.error();
        auto attempts
          = read_each<attempt>(d.getAttempts(), [&](wire::Attempt::Reader a) {
              return read_attempt(x->id, a);
            });
        if (!attempts)
          return attempts.error();
        return reply{job_detail{std::move(*x), std::move(*attempts)}};
      }
      case wire::Reply::PONG:
        return reply{pong_reply{str(in.getPong())}};
      case wire::Reply::SCHEDULES: {
        auto xs
          = read_each<recurring_schedule>(in.getSchedules(), read_schedule);
        if (!xs)
          return xs.error();
        return reply{std::move(*xs)};
      }
      case wire::Reply::SCHEDULE_DETAIL: {
        auto d = in.getScheduleDetail();
        auto x = read_schedule(d.getSchedule());
        if (!x)
          return x.error();
        auto jobs = read_each<job>(d.getJobs(), read_job);
        if (!jobs)
          return jobs.error();
        auto upcoming = read_each<timestamp>(
          d.getUpcoming(), [](int64_t us) -> caf::expected<timestamp> {
            return from_micros(us);
          });
        if (!upcoming)
          return upcoming.error();
        return reply{schedule_detail{std::move(*x), std::move(*jobs),
                                     std::move(*upcoming)}};
      }
      case wire::Reply::CANCELLED:
        return reply{cancelled_reply{in.getCancelled()}};
      }
      return malformed("unknown reply kind");
    });
}

bytes encode(const job& x) {
  capnp::MallocMessageBuilder mb{first_segment_words};
  write_job(x, mb.initRoot<wire::Job>());
  return to_bytes(mb);
}

caf::expected<job> decode_job(std::span<const uint8_t> buf) {
  return with_reader<wire::Job>(
    buf, [](wire::Job::Reader in) { return read_job(in); });
}

bytes encode(const value_map& x) {
  capnp::MallocMessageBuilder mb{first_segment_words};
  write_values(x, mb.initRoot<wire::ValueMap>());
  return to_bytes(mb);
}

caf::expected<value_map> decode_value_map(std::span<const uint8_t> buf) {
  return with_reader<wire::ValueMap>(
    buf, [](wire::ValueMap::Reader in) { return read_values(in); });
}

error_reply to_reply(const caf::error& err) {
  auto code = code_of(err);
  return error_reply{code == ec::none ? ec::unavailable : code, describe(err)};
}

caf::error to_error(const error_reply& x) {
  return make_error(x.code, x.text);
}

} // namespace jm
