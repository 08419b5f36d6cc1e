@0x9d71813084040f53;
# Jobs as they cross a process boundary and as their data and metadata are
# stored. Evolution rules: append fields with the next number, never
# renumber or change a field's type; see docs/wire-format.md.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("jm::wire");

struct Value {
  union {
    text @0 :Text;
    int @1 :Int64;
    double @2 :Float64;
    bool @3 :Bool;
    timestampUs @4 :Int64;     # microseconds since the Unix epoch, UTC
    bytes @5 :Data;
    uuid @6 :Data;             # exactly 16 bytes
  }
}

struct Entry {
  key @0 :Text;
  value @1 :Value;
}

# A job's message data or metadata.
struct ValueMap {
  entries @0 :List(Entry);
}

enum JobStatus {
  invalid @0;
  savePending @1;
  heldOnMaster @2;
  assignedToBucket @3;
  processing @4;
  succeeded @5;
  queued @6;
  failed @7;
  cancelled @8;
}

struct Job {
  id @0 :Data;                 # 16 bytes
  handler @1 :Text;
  status @2 :JobStatus;
  priority @3 :UInt8;          # 1 (very low) .. 5 (critical)
  source @4 :UInt8;            # 1 once, 2 static recurring, 3 dynamic recurring
  lane @5 :Text;
  originalScheduledAtUs @6 :Int64;
  scheduledAtUs @7 :Int64;
  createdAtUs @8 :Int64;
  timeoutUs @9 :Int64;
  maxRetries @10 :Int32;
  failureCount @11 :Int32;
  data @12 :ValueMap;
  metadata @13 :ValueMap;
  recurringScheduleId @14 :Data;   # empty when none
  bucketId @15 :Text;
  workerId @16 :Text;
  processDeadlineUs @17 :Int64;    # 0 when none
  version @18 :Int64;
}

struct Attempt {
  number @0 :Int32;
  workerId @1 :Text;
  startedAtUs @2 :Int64;
  endedAtUs @3 :Int64;
  outcome @4 :UInt8;           # 1 succeeded, 2 failed, 3 timed out, 4 lost
  error @5 :Text;
}
