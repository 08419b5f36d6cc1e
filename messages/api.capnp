@0xd23c76cdf8b65107;
# Requests to the MASTER actor's front door and its replies. The `jobmaster`
# CLI and the C++ scheduler both speak this; the master decodes and validates
# every field before acting on it.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("jm::wire");

using Job = import "job.capnp".Job;
using Attempt = import "job.capnp".Attempt;
using ValueMap = import "job.capnp".ValueMap;
using RecurringSpec = import "job.capnp".RecurringSpec;
using Schedule = import "job.capnp".Schedule;

# A job to schedule. Unset optional fields fall back to the handler's
# defaults, then to the cluster's defaults.
struct JobSpec {
  handler @0 :Text;
  data @1 :ValueMap;
  metadata @2 :ValueMap;
  runAtUs @3 :Int64;           # used when hasRunAt
  hasRunAt @4 :Bool;
  afterUs @5 :Int64;           # used when hasAfter; relative to the master's clock
  hasAfter @6 :Bool;
  priority @7 :UInt8;          # 0 = default
  lane @8 :Text;
  hasLane @9 :Bool;
  timeoutUs @10 :Int64;        # 0 = default
  maxRetries @11 :Int32;       # -1 = default
}

struct JobQuery {
  statuses @0 :List(UInt8);
  handler @1 :Text;
  lane @2 :Text;
  limit @3 :UInt32;
  fromUs @4 :Int64;            # scheduled at or after, when hasFrom
  hasFrom @5 :Bool;
  toUs @6 :Int64;              # scheduled at or before, when hasTo
  hasTo @7 :Bool;
  scheduleId @8 :Data;         # only this schedule's jobs; empty: any
  metadata @9 :ValueMap;       # each entry must match
}

struct ScheduleQuery {
  statuses @0 :List(UInt8);
  handler @1 :Text;
  limit @2 :UInt32;
}

struct ScheduleDetail {
  schedule @0 :Schedule;
  jobs @1 :List(Job);          # its latest jobs
  upcoming @2 :List(Int64);    # its next occurrences, microseconds
}

struct Request {
  union {
    schedule @0 :List(JobSpec);
    cancel @1 :Data;                       # job id
    reschedule :group {
      id @2 :Data;
      runAtUs @3 :Int64;
    }
    listJobs @4 :JobQuery;
    getJob @5 :Data;                       # job id
    ping @6 :Void;
    recurring @7 :RecurringSpec;
    listSchedules @8 :ScheduleQuery;
    getSchedule @9 :Data;                  # schedule id
    cancelSchedule @10 :Data;              # schedule id
    runScheduleNow @11 :Data;              # schedule id
  }
}

struct JobDetail {
  job @0 :Job;
  attempts @1 :List(Attempt);
}

struct Reply {
  union {
    error :group {
      code @0 :UInt8;                      # jm::ec
      text @1 :Text;
    }
    scheduled @2 :List(Data);              # job ids, in request order
    done @3 :Void;
    jobs @4 :List(Job);
    detail @5 :JobDetail;
    pong @6 :Text;                         # cluster id
    schedules @7 :List(Schedule);
    scheduleDetail @8 :ScheduleDetail;
    cancelled @9 :UInt64;                  # unstarted jobs cancelled with it
  }
}
