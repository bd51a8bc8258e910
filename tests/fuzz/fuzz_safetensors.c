/* libFuzzer harness: see fuzz_targets.c (pi_fuzz_safetensors). */
#include "fuzz_targets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return pi_fuzz_safetensors(data, size); }
