@0xd23c76cdf8b65107;
# Requests to the MASTER actor's front door and its replies. The `jobmaster`
# CLI and the C++ scheduler both speak this; the master decodes and validates
# every field before acting on it.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("jm::wire");

using Job = import "job.capnp".Job;
using Attempt = import "job.capnp".Attempt;
using ValueMap = import "job.capnp".ValueMap;

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
  }
}
