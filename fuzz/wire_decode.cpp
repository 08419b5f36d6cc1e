// Fuzz target: the Cap'n Proto decoders of messages/codec.hpp.
//
// The whole input is given to each of decode_request, decode_reply,
// decode_job and decode_value_map (all of them must reject hostile input
// with an error, never crash). When one of them accepts, the value is
// encoded again and decoded again; the round trip must succeed, and encoding
// the second value must give the same bytes as encoding the first (decoding
// is the inverse of encoding on everything the decoder accepts).

#include "messages/codec.hpp"
#include "messages/error.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>

namespace {

[[noreturn]] void fail(const char* kind, const char* what) {
  std::fprintf(stderr, "wire_decode: %s: %s\n", kind, what);
  std::abort();
}

template <class Decode>
void round_trip(const char* kind, std::span<const uint8_t> input,
                Decode decode) {
  auto first = decode(input);
  if (!first) {
    // "any byte string yields either a valid value or ec::malformed_message"
    if (jm::code_of(first.error()) != jm::ec::malformed_message)
      fail(kind, "a rejected input is not reported as malformed_message");
    return;
  }
  auto encoded = jm::encode(*first);
  auto second = decode(std::span<const uint8_t>{encoded});
  if (!second)
    fail(kind, "re-encoded value does not decode");
  auto again = jm::encode(*second);
  if (again != encoded)
    fail(kind, "encode(decode(encode(x))) differs from encode(x)");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> input{data, size};
  round_trip("request", input,
             [](std::span<const uint8_t> b) { return jm::decode_request(b); });
  round_trip("reply", input,
             [](std::span<const uint8_t> b) { return jm::decode_reply(b); });
  round_trip("job", input,
             [](std::span<const uint8_t> b) { return jm::decode_job(b); });
  round_trip("value_map", input, [](std::span<const uint8_t> b) {
    return jm::decode_value_map(b);
  });
  return 0;
}
