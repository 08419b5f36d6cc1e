#pragma once

// In-memory fakes of the peer actors in actors/interfaces.hpp, for the actor
// behaviour tests, and a fixture with a real (threaded) actor system. Each
// fake records what it receives (thread-safe; tests wait on it) and answers
// from a script, then from a default. Include after tests/support/test.hpp.

#include "actors/interfaces.hpp"
#include "messages/api.hpp"
#include "messages/codec.hpp"
#include "messages/error.hpp"
#include "tests/support/sync.hpp"

#include <caf/all.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace jm::test {

/// Upper bound for awaiting an event that should happen much sooner; only
/// reached when the code under test is broken.

using steady_clock = std::chrono::steady_clock;

/// Orders events across all fakes of a test binary.
inline std::atomic<uint64_t> event_counter{0};

/// The payload of a message that carries only its atom.
struct no_args {};

/// One received message with when it arrived.
template <class T>
struct received {
  T msg;
  /// Position among all events of the binary (see event_counter).
  uint64_t seq = 0;
  steady_clock::time_point at;
};

/// The messages of one kind that a fake received, in arrival order.
template <class T>
class inbox {
public:
  void push(T x) {
    {
      std::lock_guard guard{mtx_};
      xs_.push_back(
        received<T>{std::move(x), ++event_counter, steady_clock::now()});
    }
    cv_.notify_all();
  }

  size_t size() const {
    std::lock_guard guard{mtx_};
    return xs_.size();
  }

  /// Waits until at least `n` messages arrived; false after `timeout`.
  template <class Rep, class Period>
  bool await(size_t n, std::chrono::duration<Rep, Period> timeout) const {
    std::unique_lock guard{mtx_};
    return cv_.wait_for(guard, timeout, [&] { return xs_.size() >= n; });
  }

  bool await(size_t n) const { return await(n, patience); }

  /// Waits until some message satisfies `pred`; returns its index.
  template <class Pred>
  std::optional<size_t> await_if(Pred pred) const {
    std::unique_lock guard{mtx_};
    std::optional<size_t> found;
    cv_.wait_for(guard, patience, [&] {
      for (size_t i = 0; i < xs_.size(); ++i)
        if (pred(xs_[i].msg)) {
          found = i;
          return true;
        }
      return false;
    });
    return found;
  }

  /// Waits until `n` messages satisfy `pred`; false after `patience`.
  template <class Pred>
  bool await_count(size_t n, Pred pred) const {
    std::unique_lock guard{mtx_};
    return cv_.wait_for(guard, patience, [&] {
      size_t k = 0;
      for (auto& x : xs_)
        if (pred(x.msg))
          ++k;
      return k >= n;
    });
  }

  /// How many messages satisfy `pred`.
  template <class Pred>
  size_t count_if(Pred pred) const {
    std::lock_guard guard{mtx_};
    size_t k = 0;
    for (auto& x : xs_)
      if (pred(x.msg))
        ++k;
    return k;
  }

  received<T> entry(size_t i) const {
    std::lock_guard guard{mtx_};
    return xs_.at(i);
  }

  T at(size_t i) const { return entry(i).msg; }

  std::vector<T> all() const {
    std::lock_guard guard{mtx_};
    std::vector<T> result;
    for (auto& x : xs_)
      result.push_back(x.msg);
    return result;
  }

private:
  mutable std::mutex mtx_;
  mutable std::condition_variable cv_;
  std::vector<received<T>> xs_;
};

/// An inbox for requests that also answers them: scripted answers first,
/// each used once, then the default function (or a default-made `Res`).
/// A request is recorded after its answer was computed.
template <class Req, class Res>
class endpoint : public inbox<Req> {
public:
  using function = std::function<caf::expected<Res>(const Req&)>;

  /// The answer to the next request that finds the script empty otherwise.
  void script(caf::expected<Res> x) {
    std::lock_guard guard{mtx_};
    script_.push_back(std::move(x));
  }

  void set_default(function f) {
    std::lock_guard guard{mtx_};
    default_ = std::move(f);
  }

  caf::expected<Res> answer(const Req& x) {
    std::optional<caf::expected<Res>> scripted;
    function f;
    {
      std::lock_guard guard{mtx_};
      if (!script_.empty()) {
        scripted.emplace(std::move(script_.front()));
        script_.pop_front();
      } else {
        f = default_;
      }
    }
    caf::expected<Res> result = scripted ? std::move(*scripted)
                                : f      ? f(x)
                                         : caf::expected<Res>{Res{}};
    this->push(x);
    return result;
  }

private:
  std::mutex mtx_;
  std::deque<caf::expected<Res>> script_;
  function default_;
};

/// Every write applied.
inline write_flags all_applied(const job_writes& xs) {
  return write_flags{std::vector<bool>(xs.writes.size(), true)};
}

// -- agent connection ---------------------------------------------------------

/// Claims return nothing, releases 0, writes all apply, unless scripted.
/// While `hold_releases` / `hold_claims` are set, those answers are kept
/// back until the fake receives `flush` (the request is recorded at once).
struct fake_agent {
  fake_agent() { write.set_default(all_applied); }

  endpoint<claim_request, job_list> claim;
  endpoint<std::string, uint64_t> release;
  endpoint<job_writes, write_flags> write;
  endpoint<job_list, bool> push;
  endpoint<no_args, job_list> rescue;
  std::atomic<bool> hold_releases{false};
  std::atomic<bool> hold_claims{false};
  /// Rescues get no answer at all (a hanging agent store).
  std::atomic<bool> hang_rescues{false};

  /// Every write of one job, in the order they were sent.
  std::vector<job_write> writes_of(const job_id& id) const {
    std::vector<job_write> result;
    for (auto& batch : write.all())
      for (auto& w : batch.writes)
        if (w.job.id == id)
          result.push_back(w);
    return result;
  }

  /// Waits until a write of `id` sets `status`; returns that write.
  std::optional<job_write> await_write(const job_id& id, job_status status) {
    std::optional<job_write> result;
    auto i = write.await_if([&](const job_writes& batch) {
      for (auto& w : batch.writes)
        if (w.job.id == id && w.job.status == status) {
          result = w;
          return true;
        }
      return false;
    });
    if (!i)
      return std::nullopt;
    return result;
  }
};

/// The fake's handle: an agent connection that also takes `flush`, which
/// sends the answers held back and then replies.
using fake_agent_actor
  = agent_connection_actor::extend<caf::replies_to<atom::flush>::with<bool>>;

namespace detail {

template <class T>
void deliver(caf::typed_response_promise<T>& rp, caf::expected<T>& x) {
  if (x)
    rp.deliver(std::move(*x));
  else
    rp.deliver(std::move(x.error()));
}

} // namespace detail

inline fake_agent_actor::behavior_type
fake_agent_connection(fake_agent_actor::pointer self,
                      std::shared_ptr<fake_agent> f) {
  struct held_answers {
    std::vector<
      std::pair<caf::typed_response_promise<job_list>, caf::expected<job_list>>>
      claims;
    std::vector<
      std::pair<caf::typed_response_promise<uint64_t>, caf::expected<uint64_t>>>
      releases;
  };
  auto held = std::make_shared<held_answers>();
  return {
    [=](atom::claim, const claim_request& x) -> caf::result<job_list> {
      auto answer = f->claim.answer(x);
      if (!f->hold_claims)
        return answer;
      auto rp = self->make_response_promise<job_list>();
      held->claims.emplace_back(rp, std::move(answer));
      return rp;
    },
    [=](atom::release, const std::string& x) -> caf::result<uint64_t> {
      auto answer = f->release.answer(x);
      if (!f->hold_releases)
        return answer;
      auto rp = self->make_response_promise<uint64_t>();
      held->releases.emplace_back(rp, std::move(answer));
      return rp;
    },
    [f](atom::write, const job_writes& x) -> caf::result<write_flags> {
      return f->write.answer(x);
    },
    [f](atom::push, const job_list& x) -> caf::result<bool> {
      return f->push.answer(x);
    },
    [=](atom::rescue) -> caf::result<job_list> {
      auto answer = f->rescue.answer(no_args{});
      if (!f->hang_rescues)
        return answer;
      return self->make_response_promise<job_list>();
    },
    [=](atom::flush) {
      for (auto& [rp, x] : held->releases)
        detail::deliver(rp, x);
      for (auto& [rp, x] : held->claims)
        detail::deliver(rp, x);
      held->releases.clear();
      held->claims.clear();
      return true;
    },
  };
}

// -- store --------------------------------------------------------------------

/// A master store in memory: by default inserts, gets, lists, details and
/// fenced writes work on `jobs`; everything else answers trivially.
struct fake_store {
  fake_store() {
    insert.set_default([this](const job_list& xs) -> caf::expected<bool> {
      std::lock_guard guard{mtx};
      for (auto& x : xs.jobs)
        jobs.emplace(x.id, x);
      return true;
    });
    get.set_default([this](const job_id& id) -> caf::expected<maybe_job> {
      return maybe_job{find(id)};
    });
    list.set_default([this](const job_filter&) -> caf::expected<job_list> {
      std::lock_guard guard{mtx};
      job_list result;
      for (auto& [id, x] : jobs)
        result.jobs.push_back(x);
      return result;
    });
    detail.set_default([this](const job_id& id) -> caf::expected<job_detail> {
      if (auto x = find(id))
        return job_detail{std::move(*x), {}};
      return make_error(ec::unknown_job, "no job with id " + to_string(id));
    });
    write.set_default(
      [this](const job_writes& xs) -> caf::expected<write_flags> {
        std::lock_guard guard{mtx};
        write_flags result;
        for (auto& w : xs.writes) {
          auto i = jobs.find(w.job.id);
          bool ok = i != jobs.end() && i->second.version == w.expected_version;
          if (ok) {
            i->second = w.job;
            i->second.version = w.expected_version + 1;
          }
          result.applied.push_back(ok);
        }
        return result;
      });
  }

  fake_store(const fake_store&) = delete;
  fake_store& operator=(const fake_store&) = delete;

  void put(job x) {
    std::lock_guard guard{mtx};
    jobs.insert_or_assign(x.id, std::move(x));
  }

  std::optional<job> find(const job_id& id) const {
    std::lock_guard guard{mtx};
    if (auto i = jobs.find(id); i != jobs.end())
      return i->second;
    return std::nullopt;
  }

  endpoint<job_list, bool> insert;
  endpoint<job_id, maybe_job> get;
  endpoint<job_filter, job_list> list;
  endpoint<job_id, job_detail> detail;
  endpoint<job_writes, write_flags> write;
  endpoint<assign_request, job_list> assign;
  endpoint<node_record, bool> join;
  endpoint<lease_renewal, bool> renew;
  endpoint<std::string, bool> leave;
  endpoint<bucket_list, bool> buckets;
  endpoint<no_args, job_list> rescue;
  endpoint<no_args, uint64_t> sweep;
  endpoint<recurring_schedule, bool> sched_add;
  endpoint<schedule_id, maybe_schedule> sched_get;
  endpoint<schedule_detail_request, schedule_detail> sched_detail;
  endpoint<schedule_filter, schedule_list> sched_ls;
  endpoint<schedule_write, schedule_written> sched_set;
  endpoint<schedule_list, schedule_list> statics;
  endpoint<name_list, bool> touch;
  endpoint<timestamp, schedule_list> retire;
  endpoint<plan_request, plan_summary> plan;
  endpoint<timestamp, uint64_t> purge;

  mutable std::mutex mtx;
  std::map<job_id, job> jobs;
};

inline store_actor::behavior_type
fake_store_actor(std::shared_ptr<fake_store> f) {
  return {
    [f](atom::insert, const job_list& x) -> caf::result<bool> {
      return f->insert.answer(x);
    },
    [f](atom::get, const job_id& x) -> caf::result<maybe_job> {
      return f->get.answer(x);
    },
    [f](atom::list, const job_filter& x) -> caf::result<job_list> {
      return f->list.answer(x);
    },
    [f](atom::detail, const job_id& x) -> caf::result<job_detail> {
      return f->detail.answer(x);
    },
    [f](atom::write, const job_writes& x) -> caf::result<write_flags> {
      return f->write.answer(x);
    },
    [f](atom::assign, const assign_request& x) -> caf::result<job_list> {
      return f->assign.answer(x);
    },
    [f](atom::join, const node_record& x) -> caf::result<bool> {
      return f->join.answer(x);
    },
    [f](atom::renew, const lease_renewal& x) -> caf::result<bool> {
      return f->renew.answer(x);
    },
    [f](atom::leave, const std::string& x) -> caf::result<bool> {
      return f->leave.answer(x);
    },
    [f](atom::buckets, const bucket_list& x) -> caf::result<bool> {
      return f->buckets.answer(x);
    },
    [f](atom::rescue) -> caf::result<job_list> {
      return f->rescue.answer(no_args{});
    },
    [f](atom::sweep) -> caf::result<uint64_t> {
      return f->sweep.answer(no_args{});
    },
    [f](atom::sched_add, const recurring_schedule& x) -> caf::result<bool> {
      return f->sched_add.answer(x);
    },
    [f](atom::sched_get, const schedule_id& x) -> caf::result<maybe_schedule> {
      return f->sched_get.answer(x);
    },
    [f](atom::detail, const schedule_detail_request& x)
      -> caf::result<schedule_detail> { return f->sched_detail.answer(x); },
    [f](atom::sched_ls, const schedule_filter& x)
      -> caf::result<schedule_list> { return f->sched_ls.answer(x); },
    [f](atom::sched_set, const schedule_write& x)
      -> caf::result<schedule_written> { return f->sched_set.answer(x); },
    [f](atom::statics, const schedule_list& x) -> caf::result<schedule_list> {
      return f->statics.answer(x);
    },
    [f](atom::touch, const name_list& x) -> caf::result<bool> {
      return f->touch.answer(x);
    },
    [f](atom::retire, timestamp x) -> caf::result<schedule_list> {
      return f->retire.answer(x);
    },
    [f](atom::plan, const plan_request& x) -> caf::result<plan_summary> {
      return f->plan.answer(x);
    },
    [f](atom::purge, timestamp x) -> caf::result<uint64_t> {
      return f->purge.answer(x);
    },
  };
}

// -- master -------------------------------------------------------------------

/// Answers every request with a pong naming itself.
struct fake_master {
  explicit fake_master(std::string name = "fake-master")
    : name(std::move(name)) {
    requests.set_default([n = this->name](const wire_request&) {
      return caf::expected<wire_reply>{
        wire_reply{encode(reply{pong_reply{n}})}};
    });
  }

  std::string name;
  endpoint<wire_request, wire_reply> requests;
  inbox<std::pair<bucket_record, bucket_actor>> attached;
  inbox<std::string> left;
};

inline master_actor::behavior_type
fake_master_actor(std::shared_ptr<fake_master> f) {
  return {
    [f](wire_request& x) -> caf::result<wire_reply> {
      return f->requests.answer(x);
    },
    [f](atom::attach, bucket_record& rec, bucket_actor& b) {
      f->attached.push(std::make_pair(std::move(rec), std::move(b)));
    },
    [f](atom::leave, std::string& id) { f->left.push(std::move(id)); },
    [](atom::tick) {},
  };
}

// -- bucket -------------------------------------------------------------------

struct fake_bucket {
  inbox<wake_up> wakes;
  inbox<no_args> drains;
};

inline bucket_actor::behavior_type
fake_bucket_actor(std::shared_ptr<fake_bucket> f) {
  return {
    [f](atom::wake, const wake_up& x) { f->wakes.push(x); },
    [](atom::started, const run_started&) {},
    [](atom::done, const execution_result&) {},
    [](atom::flush) {},
    [](atom::tick) {},
    [f](atom::drain) -> caf::result<bool> {
      f->drains.push(no_args{});
      return true;
    },
  };
}

// -- wire helpers -------------------------------------------------------------

inline wire_request to_wire(const request& x) {
  return wire_request{encode(x)};
}

/// Decodes a reply or fails the test.
inline reply from_wire(const wire_reply& x) {
  auto r = decode_reply(x.data);
  if (!r)
    CAF_FAIL("undecodable reply: " << describe(r.error()));
  return std::move(*r);
}

/// The error a reply carries (code none when it is not an error).
inline error_reply error_of(const reply& x) {
  if (auto e = std::get_if<error_reply>(&x))
    return *e;
  return error_reply{};
}

// -- a real actor system ------------------------------------------------------

struct live_config : caf::actor_system_config {
  live_config() { set("scheduler.max-threads", 2); }
};

/// A threaded actor system, a scoped actor to talk from, and the actors a
/// test spawned (stopped at the end, before the system goes).
struct live_fixture {
  live_fixture() = default;

  ~live_fixture() { stop_all(); }

  template <caf::spawn_options Os = caf::no_spawn_options, class F, class... Ts>
  auto spawn(F fun, Ts&&... xs) {
    auto h = sys.spawn<Os>(fun, std::forward<Ts>(xs)...);
    spawned.push_back(caf::actor_cast<caf::actor>(h));
    return h;
  }

  /// Stops every spawned actor and waits until each has terminated.
  void stop_all() {
    auto xs = std::move(spawned);
    spawned.clear();
    for (auto& x : xs) {
      self->monitor(x);
      self->send_exit(x, caf::exit_reason::user_shutdown);
    }
    // No CAF_FAIL here: this runs in destructors, which must not throw.
    bool in_time = true;
    for (size_t i = 0; i < xs.size() && in_time; ++i)
      self->receive([](const caf::down_msg&) {},
                    caf::after(patience) >> [&] { in_time = false; });
    CAF_CHECK(in_time);
  }

  /// Sends a request and waits for its answer (or error).
  template <class Res, class Handle, class... Ts>
  caf::expected<Res> call(const Handle& h, Ts&&... xs) {
    caf::expected<Res> result = make_error(ec::unavailable, "no answer");
    self->request(h, patience, std::forward<Ts>(xs)...)
      .receive([&](Res& x) { result = std::move(x); },
               [&](caf::error& err) { result = std::move(err); });
    return result;
  }

  live_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  std::vector<caf::actor> spawned;
};

} // namespace jm::test
