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
  skipIfRunning @19 :Bool;         # overlap policy skip of its schedule
}

struct Attempt {
  number @0 :Int32;
  workerId @1 :Text;
  startedAtUs @2 :Int64;
  endedAtUs @3 :Int64;
  outcome @4 :UInt8;           # 1 succeeded, 2 failed, 3 timed out, 4 lost, 5 skipped
  error @5 :Text;
}

# A recurring schedule: what to run (the job fields) and when.
struct RecurringSpec {
  handler @0 :Text;
  expressionType @1 :Text;     # "naturalcron", "interval", or a plug-in's
  expression @2 :Text;
  timeZone @3 :Text;           # empty: the cluster's
  data @4 :ValueMap;
  metadata @5 :ValueMap;
  priority @6 :UInt8;          # 0 = default
  lane @7 :Text;
  hasLane @8 :Bool;
  timeoutUs @9 :Int64;         # 0 = default
  maxRetries @10 :Int32;       # -1 = default
  startAfterUs @11 :Int64;     # used when hasStartAfter
  hasStartAfter @12 :Bool;
  endBeforeUs @13 :Int64;      # used when hasEndBefore
  hasEndBefore @14 :Bool;
  catchUp @15 :UInt8;          # 1 all, 2 latest, 3 skip
  catchUpLimit @16 :UInt32;
  overlap @17 :UInt8;          # 1 allow, 2 skip
  staticName @18 :Text;        # empty: a dynamic schedule
}

struct Schedule {
  id @0 :Data;                 # 16 bytes
  spec @1 :RecurringSpec;
  status @2 :UInt8;            # 2 active, 3 cancelled, 4 inactive, 5 completed
  createdAtUs @3 :Int64;
  terminatedAtUs @4 :Int64;    # 0 when none
  cursorUs @5 :Int64;
  plannedUntilUs @6 :Int64;
  ensuredAtUs @7 :Int64;       # 0 when none
  version @8 :Int64;
}
